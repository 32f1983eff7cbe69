// The marketplace: search the catalog, read an entry, and add it to the hub's config the
// way `mcp-hub add` does; the new server then comes up on the servers page.

import { api } from './api.js';
import { fill, h, safeUrl } from './dom.js';
import * as render from './render.js';
import { serverHash } from './servers.js';

function defaultKey(id) {
  const parts = String(id).replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] || String(id);
}

function parametersOf(entry, installation) {
  const seen = new Map();
  for (const source of [entry.parameters, installation && installation.parameters]) {
    for (const param of Array.isArray(source) ? source : []) {
      if (param && typeof param.key === 'string' && !seen.has(param.key)) seen.set(param.key, param);
    }
  }
  return [...seen.values()];
}

function addForm(ctx, entry) {
  const installations = Array.isArray(entry.installations) ? entry.installations : [];
  const install = h('select', { id: 'add-installation' },
    installations.map((item, index) => h('option', { value: String(index) }, String(item.name ?? `#${index + 1}`))));
  const key = h('input', { id: 'add-name', type: 'text', value: defaultKey(entry.id), autocomplete: 'off', required: true });
  const force = h('input', { id: 'add-force', type: 'checkbox' });
  const params = h('div', { class: 'params' });
  const output = h('div', { class: 'output', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add to the hub\'s config');
  const inputs = new Map();

  function renderParams() {
    inputs.clear();
    const installation = installations[Number(install.value)] || null;
    const list = parametersOf(entry, installation);
    fill(params, list.length ? [
      h('p', { class: 'muted' }, 'Values are written into the config file. Leave one empty to keep its ${KEY} placeholder, read from the hub\'s environment.'),
      list.map((param, index) => {
        const id = `add-param-${index}`;
        const input = h('input', { id, type: 'text', autocomplete: 'off', placeholder: param.placeholder || '' });
        inputs.set(param.key, input);
        return h('div', { class: 'field' },
          h('label', { for: id }, `${param.name || param.key} `, h('code', null, param.key), param.required ? ' (required)' : ''),
          param.description ? h('p', { class: 'hint' }, param.description) : null, input);
      })] : h('p', { class: 'muted' }, 'No parameters.'));
  }
  install.addEventListener('change', renderParams);
  renderParams();

  const form = h('form', { class: 'add-form', novalidate: true, 'aria-label': `Add ${entry.name || entry.id}` },
    installations.length ? h('div', { class: 'field' }, h('label', { for: 'add-installation' }, 'Installation'), install) : null,
    params,
    h('div', { class: 'field' }, h('label', { for: 'add-name' }, 'Server name in the config'), key),
    h('div', { class: 'field field-inline' }, force, h('label', { for: 'add-force' }, 'Replace a server of that name')),
    h('div', { class: 'buttons' }, submit), output);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = {};
    for (const [name, input] of inputs) if (input.value !== '') values[name] = input.value;
    const installation = installations[Number(install.value)];
    submit.disabled = true;
    fill(output, h('p', { class: 'muted' }, 'Adding…'));
    try {
      const answer = await api('POST', '/api/marketplace/add', {
        mcpId: entry.id,
        installation: installation ? installation.name : undefined,
        name: key.value.trim() || undefined,
        params: values,
        force: force.checked,
      });
      const added = answer.server;
      fill(output, h('div', { class: 'result' },
        h('p', null, `Added “${added.name}” to ${added.configFile}. The hub is starting it: `,
          h('a', { href: serverHash(added.name) }, 'see it on the servers page'), '.'),
        added.unresolved.length ? h('p', { class: 'muted' }, `Still to set in the hub's environment: ${added.unresolved.join(', ')}`) : null));
      ctx.notify(`Added ${added.name}`);
    } catch (error) {
      fill(output, render.apiError(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function detailView(ctx, id) {
  const box = h('section', { class: 'detail', 'aria-labelledby': 'market-title' }, h('p', { class: 'muted' }, 'Loading…'));
  api('POST', '/api/marketplace/details', { mcpId: id }).then((answer) => {
    const entry = answer.server.server;
    const link = safeUrl(entry.url);
    fill(box,
      h('div', { class: 'detail-head' }, h('h2', { id: 'market-title', tabindex: '-1' }, entry.name || entry.id),
        h('a', { href: '#/marketplace', class: 'close' }, 'Close')),
      entry.description ? h('p', null, entry.description) : null,
      h('p', { class: 'muted' }, [entry.author, entry.category, entry.license].filter(Boolean).join(' · ')),
      link ? h('p', null, h('a', { href: link, target: '_blank', rel: 'noopener noreferrer' }, link)) : null,
      addForm(ctx, entry),
      answer.server.readmeContent ? h('details', { class: 'readme' }, h('summary', null, 'README'),
        h('pre', { class: 'text' }, answer.server.readmeContent)) : null);
    box.querySelector('h2').focus();
  }).catch((error) => fill(box, render.apiError(error)));
  return box;
}

export function marketplaceView(ctx) {
  const search = h('input', { id: 'market-search', type: 'search', autocomplete: 'off' });
  const sort = h('select', { id: 'market-sort' },
    [['stars', 'Most stars'], ['newest', 'Newest'], ['name', 'Name']].map(([value, label]) => h('option', { value }, label)));
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const results = h('ul', { class: 'cards market' });
  const detailSlot = h('div', { class: 'detail-slot' });
  const form = h('form', { role: 'search', class: 'search', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'market-search' }, 'Search'), search),
    h('div', { class: 'field' }, h('label', { for: 'market-sort' }, 'Sort by'), sort),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Search')));
  const element = h('div', { class: 'market-view' },
    h('div', { class: 'view-head' }, h('h1', null, 'Marketplace')), form, status, detailSlot, results);
  let shownId = null;

  async function load() {
    status.textContent = 'Loading the catalog…';
    const query = new URLSearchParams({ sort: sort.value });
    if (search.value.trim()) query.set('search', search.value.trim());
    try {
      const answer = await api('GET', `/api/marketplace?${query}`);
      status.textContent = `${answer.servers.length} servers`;
      fill(results, answer.servers.slice(0, 200).map((entry) => h('li', { class: 'card', dataset: { id: entry.id } },
        h('h3', null, h('a', { href: `#/marketplace/${encodeURIComponent(entry.id)}` }, entry.name || entry.id)),
        entry.description ? h('p', null, entry.description) : null,
        h('p', { class: 'muted' }, [entry.author, entry.category, entry.stars !== undefined && entry.stars !== null ? `★ ${entry.stars}` : null]
          .filter(Boolean).join(' · ')),
        Array.isArray(entry.tags) && entry.tags.length ? h('p', null, entry.tags.map((tag) => h('span', { class: 'chip' }, String(tag)))) : null)));
    } catch (error) {
      status.textContent = '';
      fill(results, h('li', null, render.apiError(error)));
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  load();
  return {
    element,
    update(route) {
      if (route.item === shownId) return;
      shownId = route.item;
      fill(detailSlot, shownId ? detailView(ctx, shownId) : null);
    },
    destroy() {},
  };
}
