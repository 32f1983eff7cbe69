// What the page knows of the hub, and who to tell when it changes. Views subscribe to
// topics: 'servers', 'health', 'stats', 'log', 'live', 'tick' (every second).

export const state = {
  health: null,
  servers: [],
  /** performance.now() when the servers were read: uptimes count on from there. */
  serversAt: 0,
  stats: null,
  statsAt: 0,
  /** Per server, one point per stats poll: {calls, errors, p50, p95} over that interval. */
  history: new Map(),
  logs: [],
  live: 'connecting',
  locked: false,
};

const listeners = new Map();

export function on(topic, listener) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(listener);
  return () => listeners.get(topic).delete(listener);
}

export function emit(topic, detail) {
  for (const listener of [...(listeners.get(topic) || [])]) {
    try {
      listener(detail);
    } catch (error) {
      console.error(`${topic} listener failed`, error);
    }
  }
}

/** A server's info by name, or undefined. */
export function server(name) {
  return state.servers.find((info) => info.name === name);
}

/** Seconds a server has been up now (its uptime counts on between reads). */
export function uptimeNow(info) {
  if (!info || info.status !== 'connected') return null;
  return (info.uptime || 0) + (performance.now() - state.serversAt) / 1000;
}

const LOG_LIMIT = 1000;
const seen = new Set();

function logKey(entry) {
  return `${entry.timestamp}|${entry.type}|${entry.message}`;
}

/** Add hub log lines (from /api/logs or the event stream), each once, the last 1000. */
export function addLogs(entries) {
  const added = [];
  for (const entry of entries) {
    const key = logKey(entry);
    if (seen.has(key)) continue;
    seen.add(key);
    state.logs.push(entry);
    added.push(entry);
  }
  while (state.logs.length > LOG_LIMIT) seen.delete(logKey(state.logs.shift()));
  if (added.length) emit('log', added);
}

/** Prometheus' histogram_quantile over cumulative buckets [{le, count}]. */
export function quantile(q, buckets) {
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    const bound = le === '+Inf' ? Infinity : Number(le);
    if (count >= rank) {
      if (bound === Infinity) return lower;
      if (count === below) return bound;
      return lower + ((bound - lower) * (rank - below)) / (count - below);
    }
    lower = bound;
    below = count;
  }
  return lower;
}

const HISTORY_POINTS = 60;

/** Take a new /api/stats answer: per-interval points from the difference with the last. */
export function takeStats(stats) {
  const previous = state.stats;
  if (previous) {
    const before = new Map(previous.servers.map((s) => [s.server, s]));
    for (const now of stats.servers) {
      const then = before.get(now.server);
      const points = state.history.get(now.server) || [];
      if (then) {
        const calls = now.calls - then.calls;
        const buckets = now.buckets.map((b, i) => ({ le: b.le, count: b.count - (then.buckets[i]?.count || 0) }));
        points.push({
          calls: Math.max(0, calls),
          errorRate: calls > 0 ? (now.errors - then.errors) / calls : null,
          p50: calls > 0 ? quantile(0.5, buckets) : null,
          p95: calls > 0 ? quantile(0.95, buckets) : null,
        });
        while (points.length > HISTORY_POINTS) points.shift();
      }
      state.history.set(now.server, points);
    }
  }
  state.stats = stats;
  state.statsAt = performance.now();
  emit('stats');
}
