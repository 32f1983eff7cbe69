// The hub itself, and how to point an MCP client at its /mcp endpoint.

import { api, apiKey } from './api.js';
import { duration, fill, h } from './dom.js';
import { on, state } from './store.js';

const KEY_PLACEHOLDER = 'YOUR_API_KEY';

async function copy(text, ctx) {
  try {
    await navigator.clipboard.writeText(text);
    ctx.notify('Copied');
  } catch {
    ctx.notify('Copying is not allowed here: select the text and copy it', 'error');
  }
}

function copyButton(ctx, label, text) {
  const button = h('button', { type: 'button', class: 'small', 'aria-label': label }, 'Copy');
  button.addEventListener('click', () => copy(text(), ctx));
  return button;
}

/** Ready-made client configurations for this hub's /mcp URL (a placeholder for the key). */
export function snippets(url, port, withKey) {
  const header = withKey ? { Authorization: `Bearer ${KEY_PLACEHOLDER}` } : null;
  const json = (value) => JSON.stringify(value, null, 2);
  return [
    {
      id: 'claude',
      title: 'Claude Code',
      text: `claude mcp add --transport http mcp-hub ${url}${withKey ? ` --header "Authorization: Bearer ${KEY_PLACEHOLDER}"` : ''}`,
    },
    {
      id: 'cursor',
      title: 'Cursor (~/.cursor/mcp.json)',
      text: json({ mcpServers: { 'mcp-hub': header ? { url, headers: header } : { url } } }),
    },
    {
      id: 'vscode',
      title: 'VS Code (.vscode/mcp.json)',
      text: json({ servers: { 'mcp-hub': header ? { type: 'http', url, headers: header } : { type: 'http', url } } }),
    },
    {
      id: 'nvim',
      title: 'mcphub.nvim (uses this hub on its port)',
      text: `require("mcphub").setup({\n  port = ${port},\n  config = vim.fn.expand("~/.config/mcphub/servers.json"),\n})`,
    },
  ];
}

export function connectView(ctx) {
  const url = `${window.location.origin}/mcp`;
  const port = window.location.port || (window.location.protocol === 'https:' ? '443' : '80');
  const facts = h('dl', { class: 'facts' });
  const endpoint = h('input', { id: 'mcp-url', type: 'text', readonly: true, value: url });
  const list = h('div', { class: 'snippets' });
  const element = h('div', { class: 'connect-view' },
    h('div', { class: 'view-head' }, h('h1', null, 'Hub')),
    facts,
    h('section', { 'aria-labelledby': 'endpoint-title' },
      h('h2', { id: 'endpoint-title' }, 'Connect an MCP client'),
      h('p', { class: 'muted' }, 'One endpoint serves every connected server\'s tools, resources and prompts, named <server>__<name>.'),
      h('div', { class: 'field copy-field' }, h('label', { for: 'mcp-url' }, 'MCP endpoint'), endpoint,
        copyButton(ctx, 'Copy the MCP endpoint URL', () => url)),
      list));

  function renderFacts() {
    const health = state.health;
    if (!health) return;
    const uptime = hub && hub.uptime !== null ? hub.uptime + (performance.now() - hubAt) / 1000 : null;
    const connected = (health.servers || []).filter((info) => info.status === 'connected').length;
    const endpointHealth = health.mcpEndpoint || {};
    const rows = [
      ['State', health.state],
      ['mcp-hub API', health.version],
      ['tornadohub', health.implementation ? health.implementation.version : '–'],
      ['Uptime', duration(uptime)],
      ['Servers connected', `${connected} of ${(health.servers || []).length}`],
      ['Tools served on /mcp', String((endpointHealth.registeredCapabilities || {}).tools ?? '–')],
      ['Event-stream clients', String(health.activeClients ?? '–')],
      ['MCP clients', String(endpointHealth.activeClients ?? '–')],
    ];
    fill(facts, rows.map(([term, value]) => [h('dt', null, term), h('dd', { dataset: { fact: term } }, String(value))]));
  }

  function renderSnippets() {
    const withKey = Boolean(apiKey.get());
    fill(list,
      withKey ? h('p', { class: 'muted' }, `This hub needs an API key: replace ${KEY_PLACEHOLDER} with yours (the page never shows it).`) : null,
      snippets(url, port, withKey).map((snippet) => h('div', { class: 'snippet', dataset: { snippet: snippet.id } },
        h('div', { class: 'snippet-head' }, h('h3', null, snippet.title),
          copyButton(ctx, `Copy the ${snippet.title} configuration`, () => snippet.text)),
        h('pre', { class: 'code' }, snippet.text))));
  }

  let hub = null;
  let hubAt = 0;
  api('GET', '/api/stats').then((stats) => {
    hub = stats.hub;
    hubAt = performance.now();
    renderFacts();
  }).catch(() => {});
  renderFacts();
  renderSnippets();
  const stops = [on('health', renderFacts), on('tick', renderFacts)];
  return {
    element,
    update() {},
    destroy() {
      stops.forEach((stop) => stop());
    },
  };
}
