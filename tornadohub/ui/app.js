// The dashboard's entry point: the API key, the live event stream, the data the views
// share, the router (#/servers, #/activity, #/marketplace, #/hub) and the messages.

import { activityView } from './activity.js';
import { api, apiKey, eventStream, onKeyRequired } from './api.js';
import { connectView } from './connect.js';
import { fill, h } from './dom.js';
import { marketplaceView } from './marketplace.js';
import { serversView } from './servers.js';
import { addLogs, emit, state } from './store.js';

const VIEWS = {
  servers: serversView,
  activity: activityView,
  marketplace: marketplaceView,
  hub: connectView,
};

const main = document.getElementById('main');
const toasts = document.getElementById('toasts');
const liveBadge = document.getElementById('live');
const hubBadge = document.getElementById('hub-state');
const keyButton = document.getElementById('key-button');
const keyDialog = document.getElementById('key-dialog');
const keyForm = document.getElementById('key-form');
const keyInput = document.getElementById('key-input');
const keyError = document.getElementById('key-error');

// ----------------------------------------------------------------------------- messages
function notify(message, kind = 'info') {
  const toast = h('p', { class: `toast toast-${kind}` }, message);
  toasts.append(toast);
  setTimeout(() => toast.remove(), kind === 'error' ? 10000 : 5000);
  while (toasts.children.length > 4) toasts.firstElementChild.remove();
}

// --------------------------------------------------------------------------------- data
const loaders = {
  async servers() {
    const answer = await api('GET', '/api/servers');
    state.servers = answer.servers;
    state.serversAt = performance.now();
    emit('servers');
  },
  async health() {
    state.health = await api('GET', '/api/health');
    renderHubBadge();
    emit('health');
  },
  async logs() {
    const answer = await api('GET', '/api/logs?limit=500');
    addLogs(answer.lines);
  },
};
const loading = new Map();

/** Read one thing again soon; requests that arrive meanwhile share the next read. */
function refresh(what) {
  const entry = loading.get(what) || { timer: null, running: false, again: false };
  loading.set(what, entry);
  if (entry.running) {
    entry.again = true;
    return;
  }
  if (entry.timer) return;
  entry.timer = setTimeout(async () => {
    entry.timer = null;
    entry.running = true;
    try {
      if (!state.locked) await loaders[what]();
    } catch {
      // a 401 locks the page; anything else shows as the connection state
    } finally {
      entry.running = false;
      if (entry.again) {
        entry.again = false;
        refresh(what);
      }
    }
  }, 30);
}

function refreshAll() {
  for (const what of Object.keys(loaders)) refresh(what);
}

// ---------------------------------------------------------------------------- the stream
function onEvent(name, payload) {
  if (name === 'log') {
    addLogs([payload]);
  } else if (name === 'hub_state') {
    if (state.health) state.health.state = payload.state;
    renderHubBadge(payload.state);
    refresh('servers');
    refresh('health');
  } else if (name === 'subscription_event') {
    if (payload.type !== 'workspaces_updated') refresh('servers');
    refresh('health');
  } else if (name === 'heartbeat') {
    refresh('health');
  }
}

let stream = null;

function onStatus(status) {
  state.live = status;
  const text = { live: 'Live', connecting: 'Connecting…', offline: 'Hub unreachable, retrying', locked: 'Locked' }[status];
  liveBadge.textContent = text || status;
  liveBadge.className = `badge live-${status}`;
  if (status === 'live') refreshAll();
  emit('live');
}

function renderHubBadge(value) {
  const hubState = value || (state.health && state.health.state) || 'unknown';
  hubBadge.textContent = `Hub ${hubState}`;
  hubBadge.className = `badge hub-${hubState}`;
}

// ------------------------------------------------------------------------------ the key
function lock() {
  if (state.locked) return;
  state.locked = true;
  state.servers = [];
  state.health = null;
  renderRoute();
  openKeyDialog();
}

function openKeyDialog(message) {
  keyError.textContent = message || '';
  keyError.hidden = !message;
  keyInput.value = '';
  if (!keyDialog.open) keyDialog.showModal();
  keyInput.focus();
}

function renderKeyButton() {
  keyButton.hidden = !apiKey.get();
}

keyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (!key) {
    openKeyDialog('Enter the key');
    return;
  }
  apiKey.set(key);
  try {
    await api('GET', '/api/health');
  } catch (error) {
    apiKey.clear();
    openKeyDialog(error.status === 401 ? 'That key was refused' : error.message);
    return;
  }
  keyDialog.close();
  state.locked = false;
  renderKeyButton();
  renderRoute();
  refreshAll();
  if (stream) stream.restart();
  else stream = eventStream({ onEvent, onStatus });
});

keyButton.addEventListener('click', () => {
  apiKey.clear();
  renderKeyButton();
  window.location.reload();
});

onKeyRequired(() => {
  if (apiKey.get()) apiKey.clear();
  renderKeyButton();
  lock();
});

// ---------------------------------------------------------------------------- the router
/** #/servers/NAME/tools/TOOL -> {view, server, tab, item} */
export function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((part) => {
    try { return decodeURIComponent(part); } catch { return part; }
  });
  const view = VIEWS[parts[0]] ? parts[0] : 'servers';
  if (view === 'servers') return { view, server: parts[1] || null, tab: parts[2] || null, item: parts[3] || null };
  return { view, server: null, tab: null, item: parts[1] || null };
}

let current = null;
const context = { notify, refresh, navigate: (hash) => { window.location.hash = hash; } };

function renderRoute() {
  const route = parseRoute(window.location.hash);
  for (const link of document.querySelectorAll('nav.sections a')) {
    if (link.dataset.view === route.view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (state.locked) {
    if (current) current.view.destroy();
    current = null;
    const unlock = h('button', { type: 'button', class: 'primary' }, 'Enter the API key');
    unlock.addEventListener('click', () => openKeyDialog());
    fill(main, h('section', { class: 'locked' }, h('h1', null, 'This hub needs an API key'),
      h('p', null, 'Nothing is shown until you give one: it stays in this tab only.'), unlock));
    return;
  }
  if (!current || current.name !== route.view) {
    if (current) current.view.destroy();
    const view = VIEWS[route.view](context);
    current = { name: route.view, view };
    fill(main, view.element);
    document.title = `${route.view[0].toUpperCase()}${route.view.slice(1)} · mcp-hub`;
  }
  current.view.update(route);
}

window.addEventListener('hashchange', () => {
  if (window.location.hash.startsWith('#/') || window.location.hash === '') renderRoute();
});
document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
setInterval(() => emit('tick'), 1000);
// A page left for another (or kept in the back/forward cache) lets go of its event stream,
// and takes it up again when shown.
window.addEventListener('pagehide', () => {
  if (stream) stream.close();
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted && stream && !state.locked) stream.restart();
});

// -------------------------------------------------------------------------------- start
async function start() {
  renderKeyButton();
  renderHubBadge();
  try {
    await loaders.health();
  } catch {
    // locked (the 401 handler did it) or unreachable (the stream keeps trying)
  }
  renderRoute();
  if (!state.locked) {
    refreshAll();
    stream = eventStream({ onEvent, onStatus });
  }
}

start();
