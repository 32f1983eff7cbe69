// The hub at work: per-server tool calls as small live charts (read from the hub's own
// Prometheus histograms through /api/stats), and the live log tail with a level filter.

import { api } from './api.js';
import { fill, h, millis } from './dom.js';
import { lineChart } from './charts.js';
import { logLine } from './servers.js';
import { on, state, takeStats } from './store.js';

const LEVELS = ['debug', 'info', 'warn', 'error'];
const POLL_MS = 2000;

function percent(value) {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(value < 0.1 && value > 0 ? 1 : 0)} %`;
}

function metricsCard(stats) {
  const points = state.history.get(stats.server) || [];
  return h('article', { class: 'card metrics', dataset: { server: stats.server } },
    h('h3', null, stats.server),
    h('p', { class: 'totals' },
      `${stats.calls} call${stats.calls === 1 ? '' : 's'} · ${stats.errors} error${stats.errors === 1 ? '' : 's'} (${percent(stats.errorRate)})`
      + ` · p50 ${millis(stats.p50)} · p95 ${millis(stats.p95)}`),
    h('div', { class: 'charts' },
      lineChart({
        label: `Calls every ${POLL_MS / 1000} s`,
        series: [{ name: 'calls', className: 'series-calls', values: points.map((p) => p.calls) }],
      }),
      lineChart({
        label: 'Error rate',
        max: 1,
        format: percent,
        series: [{ name: 'errors', className: 'series-errors', values: points.map((p) => p.errorRate) }],
      }),
      lineChart({
        label: 'Latency',
        format: millis,
        series: [
          { name: 'p50', className: 'series-p50', values: points.map((p) => p.p50) },
          { name: 'p95', className: 'series-p95', values: points.map((p) => p.p95) },
        ],
      })));
}

export function activityView(ctx) {
  const cards = h('div', { class: 'metrics-grid' }, h('p', { class: 'muted' }, 'Loading…'));
  const level = h('select', { id: 'log-level' }, LEVELS.map((name) => h('option', { value: name }, name)));
  level.value = 'info';
  const filter = h('input', { id: 'log-filter', type: 'search', placeholder: 'Filter', autocomplete: 'off' });
  const follow = h('input', { id: 'log-follow', type: 'checkbox' });
  follow.checked = true;
  const list = h('ol', { class: 'log', 'aria-label': 'Hub log, newest last' });
  const box = h('div', { class: 'log-box', tabindex: '0', 'aria-label': 'Hub log' }, list);
  const element = h('div', { class: 'activity-view' },
    h('div', { class: 'view-head' }, h('h1', null, 'Activity')),
    h('section', { 'aria-labelledby': 'calls-title' },
      h('h2', { id: 'calls-title' }, 'Tool calls'),
      h('p', { class: 'muted' }, 'From the hub\'s own metrics (REST and /mcp calls); the charts cover the last two minutes.'),
      cards),
    h('section', { 'aria-labelledby': 'log-title' },
      h('h2', { id: 'log-title' }, 'Hub log'),
      h('div', { class: 'log-controls' },
        h('div', { class: 'field' }, h('label', { for: 'log-level' }, 'Level and above'), level),
        h('div', { class: 'field' }, h('label', { for: 'log-filter' }, 'Containing'), filter),
        h('div', { class: 'field field-inline' }, follow, h('label', { for: 'log-follow' }, 'Follow new lines'))),
      box));

  function visible(entry) {
    const at = LEVELS.indexOf(entry.type);
    if (at < LEVELS.indexOf(level.value)) return false;
    const needle = filter.value.trim().toLowerCase();
    return !needle || String(entry.message).toLowerCase().includes(needle);
  }

  function renderLog() {
    fill(list, state.logs.filter(visible).slice(-500).map(logLine));
    if (follow.checked) box.scrollTop = box.scrollHeight;
  }

  function appendLog(entries) {
    for (const entry of entries.filter(visible)) list.append(logLine(entry));
    while (list.children.length > 500) list.firstElementChild.remove();
    if (follow.checked) box.scrollTop = box.scrollHeight;
  }

  function renderCards() {
    const servers = state.stats ? state.stats.servers : [];
    fill(cards, servers.length ? servers.map(metricsCard) : h('p', { class: 'muted' }, 'No servers.'));
  }

  let timer = null;
  let alive = true;
  async function poll() {
    try {
      takeStats(await api('GET', '/api/stats'));
    } catch {
      // shown by the connection state; try again on the next beat
    }
    if (alive) timer = setTimeout(poll, POLL_MS);
  }

  level.addEventListener('change', renderLog);
  filter.addEventListener('input', renderLog);
  const stops = [on('log', appendLog), on('stats', renderCards)];
  renderLog();
  if (state.stats) renderCards();
  poll();
  return {
    element,
    update() {},
    destroy() {
      alive = false;
      clearTimeout(timer);
      stops.forEach((stop) => stop());
    },
  };
}
