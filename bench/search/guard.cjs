// guard.cjs -- preloaded (`node --require`) into every npm server the search bench starts.
// The bench only asks these servers for tools/list; it must never reach the network, whatever a
// server tries at start-up (telemetry, token checks, update checks). So:
// 1. every TCP/TLS connection (net.Socket.connect: http, https, undici's fetch, database
//    drivers) to a host that is not loopback fails at once with ECONNREFUSED;
// 2. global fetch() to a non-loopback URL is rejected the way Node rejects it offline.
'use strict';
const net = require('net');
const LOOP = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '']);

function refused(host) {
  return Object.assign(new Error(`connect ECONNREFUSED ${host} (search bench guard: offline)`), {
    code: 'ECONNREFUSED',
  });
}

const origConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let opts = args[0];
  if (Array.isArray(opts)) opts = opts[0];
  let host = '';
  if (opts && typeof opts === 'object') {
    host = opts.path ? '' : String(opts.host || 'localhost');
  } else if (typeof opts === 'number' || (typeof opts === 'string' && /^\d+$/.test(opts))) {
    host = typeof args[1] === 'string' ? args[1] : 'localhost';
  }
  if (!LOOP.has(host)) {
    process.nextTick(() => this.destroy(refused(host)));
    return this;
  }
  return origConnect.apply(this, args);
};

if (typeof globalThis.fetch === 'function') {
  const origFetch = globalThis.fetch;
  globalThis.fetch = function (input, init) {
    let host = '';
    try {
      const u = new URL(typeof input === 'string' ? input : (input && (input.url || input.href)) || String(input));
      host = u.hostname;
    } catch (_) { /* let the real fetch report it */ }
    if (host && !LOOP.has(host)) {
      const err = new TypeError('fetch failed');
      err.cause = refused(host);
      return Promise.reject(err);
    }
    return origFetch.call(this, input, init);
  };
}
