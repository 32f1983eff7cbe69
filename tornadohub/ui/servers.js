// The servers view: one row per server, live, with its actions; and one server's details:
// its tools (called through a form made from the tool's inputSchema), resources, prompts
// and recent log lines.

import { api } from './api.js';
import { basename, clock, duration, fill, h, jsonDetails, safeUrl } from './dom.js';
import * as render from './render.js';
import { buildForm } from './schema-form.js';
import { on, server, state, uptimeNow } from './store.js';

const ACTIONS = {
  connected: ['stop', 'restart', 'refresh'],
  connecting: ['stop'],
  disconnected: ['start', 'stop'],
  unauthorized: ['authorize', 'stop'],
  disabled: ['start'],
};
const ACTION_LABEL = { start: 'Start', stop: 'Stop', restart: 'Restart', refresh: 'Refresh', authorize: 'Authorize' };
const TABS = [
  ['tools', 'Tools'],
  ['resources', 'Resources'],
  ['prompts', 'Prompts'],
  ['logs', 'Logs'],
];

export function serverHash(name, ...rest) {
  return `#/servers/${[name, ...rest].map(encodeURIComponent).join('/')}`;
}

function count(info, key) {
  const list = info.capabilities && info.capabilities[key];
  return Array.isArray(list) ? list.length : 0;
}

function statusBadge(status) {
  return h('span', { class: `status status-${status}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), status);
}

function logList(lines, empty) {
  if (!lines.length) return h('p', { class: 'muted' }, empty);
  return h('ol', { class: 'log' }, lines.map(logLine));
}

export function logLine(entry) {
  const data = entry.data && typeof entry.data === 'object' && Object.keys(entry.data).length ? entry.data : null;
  return h('li', { class: `log-line level-${entry.type}` },
    h('time', { datetime: entry.timestamp }, clock(entry.timestamp)),
    h('span', { class: 'level' }, entry.type),
    h('span', { class: 'message' }, String(entry.message ?? '')),
    data ? jsonDetails('data', data) : null);
}

/** Run one server action from a button: busy while it runs, a message when done. */
async function runAction(ctx, name, action, button) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  const body = { server_name: name };
  try {
    if (action === 'start') await api('POST', '/api/servers/start', body);
    else if (action === 'stop') await api('POST', '/api/servers/stop?disable=true', body);
    else if (action === 'refresh') await api('POST', '/api/servers/refresh', body);
    else if (action === 'restart') {
      await api('POST', '/api/servers/stop', body);
      await api('POST', '/api/servers/start', body);
    } else if (action === 'authorize') {
      const answer = await api('POST', '/api/servers/authorize', body);
      const url = safeUrl(answer.authorizationUrl);
      ctx.notify(url ? `Open the authorization page for ${name}: see its details.` : 'No authorization URL');
      ctx.navigate(serverHash(name));
      return;
    }
    ctx.notify(`${ACTION_LABEL[action]}: ${name} done`);
  } catch (error) {
    ctx.notify(`${ACTION_LABEL[action]} ${name} failed: ${error.message}`, 'error');
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    ctx.refresh('servers');
  }
}

// ------------------------------------------------------------------------------ the table
function serverTable(ctx) {
  const rows = new Map();
  const body = h('tbody');
  const table = h('table', { class: 'servers' },
    h('caption', { class: 'visually-hidden' }, 'Servers, their status and actions'),
    h('thead', null, h('tr', null,
      ['Server', 'Status', 'Transport', 'Uptime', 'Tools', 'Resources', 'Prompts', 'Config file', 'Actions']
        .map((title) => h('th', { scope: 'col' }, title)))),
    body);

  function createRow(name) {
    const cells = {
      link: h('a', { href: serverHash(name) }),
      description: h('p', { class: 'muted description' }),
      status: h('span'),
      reason: h('p', { class: 'reason' }),
      transport: h('td', { 'data-label': 'Transport' }),
      uptime: h('td', { 'data-label': 'Uptime', class: 'number' }),
      tools: h('td', { 'data-label': 'Tools', class: 'number' }),
      resources: h('td', { 'data-label': 'Resources', class: 'number' }),
      prompts: h('td', { 'data-label': 'Prompts', class: 'number' }),
      source: h('td', { 'data-label': 'Config file', class: 'source' }),
      actions: h('td', { 'data-label': 'Actions', class: 'actions' }),
    };
    const tr = h('tr', { dataset: { server: name } },
      h('th', { scope: 'row', class: 'name' }, cells.link, cells.description),
      h('td', { 'data-label': 'Status', class: 'status-cell' }, cells.status, cells.reason),
      cells.transport, cells.uptime, cells.tools, cells.resources, cells.prompts, cells.source, cells.actions);
    const row = { tr, cells, actionsKey: null, info: null };
    rows.set(name, row);
    return row;
  }

  function updateActions(row, info) {
    const actions = ACTIONS[info.status] || [];
    const key = `${info.status}:${actions.join(',')}`;
    if (row.actionsKey === key) return;
    const hadFocus = row.cells.actions.contains(document.activeElement);
    row.actionsKey = key;
    fill(row.cells.actions, actions.map((action) => {
      const button = h('button', {
        type: 'button',
        class: action === 'stop' ? 'small secondary' : 'small',
        dataset: { action },
        'aria-label': `${ACTION_LABEL[action]} ${info.displayName || info.name}`,
      }, ACTION_LABEL[action]);
      button.addEventListener('click', () => runAction(ctx, info.name, action, button));
      return button;
    }));
    if (hadFocus) {
      const first = row.cells.actions.querySelector('button');
      (first || row.cells.link).focus();
    }
  }

  function updateRow(row, info) {
    const { cells } = row;
    row.info = info;
    row.tr.dataset.status = info.status;
    cells.link.textContent = info.displayName || info.name;
    cells.description.textContent = info.description || '';
    cells.description.hidden = !info.description;
    fill(cells.status, statusBadge(info.status));
    const reason = info.status !== 'connected' && info.error ? info.error : '';
    cells.reason.textContent = reason;
    cells.reason.hidden = !reason;
    cells.transport.textContent = info.transportType || '';
    cells.tools.textContent = String(count(info, 'tools'));
    cells.resources.textContent = String(count(info, 'resources') + count(info, 'resourceTemplates'));
    cells.prompts.textContent = String(count(info, 'prompts'));
    const source = info.config_source || '';
    cells.source.textContent = basename(source);
    if (source) cells.source.title = source;
    updateActions(row, info);
    tick(row);
  }

  function tick(row) {
    const seconds = uptimeNow(row.info);
    row.cells.uptime.textContent = seconds === null ? '–' : duration(seconds);
  }

  function update() {
    const names = state.servers.map((info) => info.name);
    for (const [name, row] of rows) {
      if (!names.includes(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    state.servers.forEach((info, index) => {
      const row = rows.get(info.name) || createRow(info.name);
      updateRow(row, info);
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] || null);
    });
  }

  return {
    element: table,
    update,
    tick: () => rows.forEach(tick),
    select(name) {
      for (const [key, row] of rows) {
        if (key === name) row.tr.setAttribute('aria-current', 'true');
        else row.tr.removeAttribute('aria-current');
      }
    },
  };
}

// ---------------------------------------------------------------------------- the details
function toolPanel(name, tool) {
  let form = buildForm(tool.inputSchema);
  let jsonMode = false;
  const fields = h('div', { class: 'tool-fields' }, form.element);
  const json = h('textarea', { id: 'tool-json', class: 'code', rows: 8, spellcheck: 'false', 'aria-label': 'Arguments as JSON' });
  const jsonError = h('p', { class: 'field-error', hidden: true });
  const jsonBox = h('div', { class: 'field', hidden: true }, json, jsonError);
  const toggle = h('input', { type: 'checkbox', id: 'tool-json-mode' });
  const summary = h('div', { class: 'form-errors', role: 'alert', hidden: true });
  const output = h('div', { class: 'output', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Call tool');

  toggle.addEventListener('change', () => {
    if (toggle.checked) {
      const { value } = form.read();
      form.clear();
      json.value = JSON.stringify(value, null, 2);
      jsonMode = true;
    } else {
      let value;
      try {
        value = JSON.parse(json.value || '{}');
      } catch (error) {
        jsonError.textContent = `Not valid JSON: ${error.message}`;
        jsonError.hidden = false;
        toggle.checked = true;
        return;
      }
      form = buildForm(tool.inputSchema, value);
      fill(fields, form.element);
      jsonMode = false;
    }
    jsonError.hidden = true;
    fields.hidden = jsonMode;
    jsonBox.hidden = !jsonMode;
  });

  function readArguments() {
    if (!jsonMode) return form.read();
    try {
      const value = JSON.parse(json.value || '{}');
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        return { value, errors: [{ path: '(arguments)', message: 'Enter a JSON object', control: json }] };
      }
      return { value, errors: [] };
    } catch (error) {
      return { value: null, errors: [{ path: '(arguments)', message: `Not valid JSON: ${error.message}`, control: json }] };
    }
  }

  const element = h('form', { class: 'tool-form', novalidate: true, 'aria-label': `Call ${tool.name}` },
    fields, jsonBox,
    h('div', { class: 'field field-inline' }, toggle, h('label', { for: 'tool-json-mode' }, 'Edit the arguments as JSON')),
    summary, h('div', { class: 'buttons' }, submit), output);

  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { value, errors } = readArguments();
    if (errors.length) {
      fill(summary, h('p', null, errors.length === 1 ? 'One field needs attention:' : `${errors.length} fields need attention:`),
        h('ul', null, errors.map((e) => h('li', null, `${e.path}: ${e.message}`))));
      summary.hidden = false;
      if (errors[0].control) errors[0].control.focus();
      return;
    }
    summary.hidden = true;
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    fill(output, h('p', { class: 'muted' }, 'Calling…'));
    const started = performance.now();
    try {
      const answer = await api('POST', '/api/servers/tools', { server_name: name, tool: tool.name, arguments: value });
      fill(output, h('p', { class: 'muted' }, `Answered in ${Math.round(performance.now() - started)} ms`),
        render.toolResult(answer.result));
    } catch (error) {
      fill(output, render.apiError(error));
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
    }
  });

  const annotations = tool.annotations && typeof tool.annotations === 'object'
    ? Object.entries(tool.annotations).filter(([, v]) => v === true).map(([k]) => h('span', { class: 'chip' }, k))
    : [];
  return h('article', { class: 'tool', dataset: { tool: tool.name } },
    h('h3', null, tool.title || tool.name, tool.title ? h('code', { class: 'muted' }, ` ${tool.name}`) : null),
    tool.description ? h('p', { class: 'tool-description' }, tool.description) : null,
    annotations.length ? h('p', null, annotations) : null,
    element,
    jsonDetails('Input schema', tool.inputSchema));
}

function toolsTab(name, info, selected) {
  const tools = (info.capabilities && info.capabilities.tools) || [];
  if (!tools.length) return h('p', { class: 'muted' }, info.status === 'connected' ? 'This server has no tools.' : 'Tools are listed while the server is connected.');
  const current = tools.find((tool) => tool.name === selected) || null;
  const list = h('ul', { class: 'item-list', 'aria-label': 'Tools' }, tools.map((tool) => h('li', null,
    h('a', {
      href: serverHash(name, 'tools', tool.name),
      'aria-current': current && current.name === tool.name ? 'true' : null,
    }, tool.name),
    tool.description ? h('p', { class: 'muted clamp' }, tool.description) : null)));
  return h('div', { class: 'split' }, list,
    h('div', { class: 'pane' }, current ? toolPanel(name, current) : h('p', { class: 'muted' }, 'Choose a tool to call it.')));
}

function readButton(ctx, name, getUri, output, label) {
  const button = h('button', { type: 'button', class: 'small' }, label);
  button.addEventListener('click', async () => {
    const uri = getUri();
    button.disabled = true;
    fill(output, h('p', { class: 'muted' }, `Reading ${uri}…`));
    try {
      const answer = await api('POST', '/api/servers/resources', { server_name: name, uri });
      fill(output, h('h4', null, uri), render.resourceResult(answer.result));
    } catch (error) {
      fill(output, render.apiError(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function resourcesTab(ctx, name, info) {
  const caps = info.capabilities || {};
  const resources = caps.resources || [];
  const templates = caps.resourceTemplates || [];
  if (!resources.length && !templates.length) return h('p', { class: 'muted' }, 'No resources.');
  const output = h('div', { class: 'output', 'aria-live': 'polite' });
  return h('div', null,
    resources.length ? h('ul', { class: 'cards' }, resources.map((resource) => h('li', { class: 'card' },
      h('h3', null, resource.title || resource.name || resource.uri),
      h('p', null, h('code', null, resource.uri), resource.mimeType ? h('span', { class: 'muted' }, ` ${resource.mimeType}`) : null),
      resource.description ? h('p', { class: 'muted' }, resource.description) : null,
      readButton(ctx, name, () => resource.uri, output, 'Read')))) : null,
    templates.length ? h('h3', null, 'Templates') : null,
    templates.length ? h('ul', { class: 'cards' }, templates.map((template, index) => {
      const id = `template-${index}`;
      const input = h('input', { id, type: 'text', value: template.uriTemplate, autocomplete: 'off' });
      return h('li', { class: 'card' },
        h('h3', null, template.title || template.name),
        template.description ? h('p', { class: 'muted' }, template.description) : null,
        h('div', { class: 'field' }, h('label', { for: id }, `URI (fill in ${template.uriTemplate})`), input),
        readButton(ctx, name, () => input.value, output, 'Read'));
    })) : null,
    output);
}

function promptsTab(name, info) {
  const prompts = (info.capabilities && info.capabilities.prompts) || [];
  if (!prompts.length) return h('p', { class: 'muted' }, 'No prompts.');
  return h('ul', { class: 'cards' }, prompts.map((prompt) => {
    const args = Array.isArray(prompt.arguments) ? prompt.arguments : [];
    const schema = {
      type: 'object',
      properties: Object.fromEntries(args.map((arg) => [arg.name, { type: 'string', description: arg.description }])),
      required: args.filter((arg) => arg.required).map((arg) => arg.name),
    };
    const form = buildForm(schema);
    const output = h('div', { class: 'output', 'aria-live': 'polite' });
    const submit = h('button', { type: 'submit', class: 'small' }, 'Get prompt');
    const element = h('form', { novalidate: true, 'aria-label': `Get prompt ${prompt.name}` }, form.element, h('div', { class: 'buttons' }, submit), output);
    element.addEventListener('submit', async (event) => {
      event.preventDefault();
      const { value, errors } = form.read();
      if (errors.length) {
        errors[0].control.focus();
        return;
      }
      submit.disabled = true;
      try {
        const answer = await api('POST', '/api/servers/prompts', { server_name: name, prompt: prompt.name, arguments: value });
        fill(output, render.promptResult(answer.result));
      } catch (error) {
        fill(output, render.apiError(error));
      } finally {
        submit.disabled = false;
      }
    });
    return h('li', { class: 'card' }, h('h3', null, prompt.title || prompt.name),
      prompt.description ? h('p', { class: 'muted' }, prompt.description) : null, element);
  }));
}

function logsTab(name) {
  const box = h('div', { class: 'server-logs' }, h('p', { class: 'muted' }, 'Loading…'));
  let pending = false;
  let again = false;
  async function load() {
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    try {
      const answer = await api('GET', `/api/logs?server_name=${encodeURIComponent(name)}&limit=200`);
      const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
      fill(box, logList(answer.lines, 'No log lines from this server yet.'));
      if (atEnd) box.scrollTop = box.scrollHeight;
    } catch (error) {
      fill(box, render.apiError(error));
    } finally {
      pending = false;
      if (again) {
        again = false;
        load();
      }
    }
  }
  load();
  let timer = null;
  const stop = on('log', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  return { element: h('div', null, h('p', { class: 'muted' }, 'Recent stderr and hub lines about this server, newest last.'), box), stop };
}

function detailPanel(ctx) {
  const title = h('h2', { id: 'detail-title', tabindex: '-1' });
  const summary = h('div', { class: 'detail-summary' });
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Server details' });
  const body = h('div', { class: 'tab-body' });
  const element = h('section', { class: 'detail', 'aria-labelledby': 'detail-title' },
    h('div', { class: 'detail-head' }, title, h('a', { href: '#/servers', class: 'close' }, 'Close')),
    summary, tabs, body);
  let shown = { name: null, tab: null, item: null, signature: null, bodySignature: null };
  let cleanup = null;

  function summaryOf(info) {
    const rows = [
      ['Status', statusBadge(info.status)],
      info.error ? ['Reason', h('span', { class: 'reason' }, info.error)] : null,
      ['Server', info.serverInfo ? `${info.serverInfo.name || ''} ${info.serverInfo.version || ''}`.trim() : '–'],
      ['Transport', info.transportType || '–'],
      ['Config file', info.config_source || '–'],
      // mcp-hub (and so the API) stamps a server disabled by its config when it loads it
      ['Last started', info.lastStarted && info.status !== 'disabled' ? new Date(info.lastStarted).toLocaleString() : '–'],
    ].filter(Boolean);
    const url = info.status === 'unauthorized' ? safeUrl(info.authorizationUrl) : null;
    return [
      h('dl', { class: 'facts' }, rows.map(([term, value]) => [h('dt', null, term), h('dd', null, value)])),
      url ? h('p', { class: 'authorize' }, 'This server needs authorization: ',
        h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, 'open the authorization page'),
        '. The status turns connected by itself once you have signed in.') : null,
      info.description ? h('p', { class: 'muted' }, info.description) : null,
    ];
  }

  function update(route) {
    const info = server(route.server);
    if (!info) {
      fill(title, route.server);
      fill(summary, h('p', { class: 'muted' }, 'No such server (any more).'));
      tabs.replaceChildren();
      body.replaceChildren();
      shown = { name: route.server };
      return;
    }
    const tab = route.tab || 'tools';
    const { uptime, ...stable } = info;
    const signature = JSON.stringify(stable);
    const fresh = shown.name !== info.name;
    if (fresh || shown.signature !== signature) {
      title.textContent = info.displayName || info.name;
      fill(summary, summaryOf(info));
    }
    if (fresh || shown.tab !== tab || shown.signature !== signature) {
      const focused = tabs.contains(document.activeElement) ? document.activeElement.dataset.tab : null;
      fill(tabs, TABS.map(([key, label]) => {
        const number = key === 'logs' ? '' : ` (${key === 'resources' ? count(info, 'resources') + count(info, 'resourceTemplates') : count(info, key)})`;
        return h('a', { href: serverHash(info.name, key), dataset: { tab: key }, 'aria-current': key === tab ? 'page' : null }, label + number);
      }));
      if (focused) tabs.querySelector(`[data-tab="${focused}"]`)?.focus();
    }
    // The tab's body is rebuilt only when what it shows changed: a half-filled form stays.
    const caps = info.capabilities || {};
    const bodySignature = JSON.stringify([tab, route.item, info.status,
      tab === 'tools' ? caps.tools : tab === 'resources' ? [caps.resources, caps.resourceTemplates] : tab === 'prompts' ? caps.prompts : null]);
    if (fresh || shown.bodySignature !== bodySignature) {
      if (cleanup) cleanup();
      cleanup = null;
      let content;
      if (tab === 'tools') content = toolsTab(info.name, info, route.item);
      else if (tab === 'resources') content = resourcesTab(ctx, info.name, info);
      else if (tab === 'prompts') content = promptsTab(info.name, info);
      else {
        const logs = logsTab(info.name);
        cleanup = logs.stop;
        content = logs.element;
      }
      fill(body, content);
    }
    if (fresh) title.focus();
    shown = { name: info.name, tab, item: route.item, signature, bodySignature };
  }

  return {
    element,
    update,
    destroy() {
      if (cleanup) cleanup();
    },
  };
}

// ------------------------------------------------------------------------------- the view
export function serversView(ctx) {
  const table = serverTable(ctx);
  const counts = h('p', { class: 'muted', 'aria-live': 'polite' });
  const refreshAll = h('button', { type: 'button', class: 'small secondary' }, 'Refresh all');
  refreshAll.addEventListener('click', async () => {
    refreshAll.disabled = true;
    try {
      await api('GET', '/api/refresh');
      ctx.notify('Every server\'s lists were read again');
    } catch (error) {
      ctx.notify(`Refresh failed: ${error.message}`, 'error');
    } finally {
      refreshAll.disabled = false;
      ctx.refresh('servers');
    }
  });
  const detailSlot = h('div', { class: 'detail-slot' });
  const element = h('div', { class: 'servers-view' },
    h('div', { class: 'view-head' }, h('h1', null, 'Servers'), counts, refreshAll),
    h('div', { class: 'table-wrap' }, table.element),
    detailSlot);
  let detail = null;
  let route = null;

  function renderCounts() {
    const by = {};
    for (const info of state.servers) by[info.status] = (by[info.status] || 0) + 1;
    const parts = Object.entries(by).map(([status, n]) => `${n} ${status}`);
    if (!state.serversAt) counts.textContent = 'Loading…';
    else counts.textContent = state.servers.length ? `${state.servers.length} servers: ${parts.join(', ')}` : 'No servers configured.';
  }

  function update(next) {
    route = next || route;
    table.update();
    table.select(route.server);
    renderCounts();
    if (route.server) {
      if (!detail) {
        detail = detailPanel(ctx);
        fill(detailSlot, detail.element);
      }
      detail.update(route);
    } else if (detail) {
      detail.destroy();
      detail = null;
      detailSlot.replaceChildren();
    }
  }

  const stops = [on('servers', () => update()), on('tick', () => table.tick())];
  return {
    element,
    update,
    destroy() {
      stops.forEach((stop) => stop());
      if (detail) detail.destroy();
    },
  };
}
