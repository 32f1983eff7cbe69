// loopback-guard.cjs -- preload with `node --require bench/loopback-guard.cjs` (from the shared
// bench harness; used by bench/run.py for mcp-hub and server-everything).
// 1. Any net/http server .listen(port[, cb]) without an explicit host is bound to 127.0.0.1
//    (mcp-hub and server-everything both call listen(port) which would bind to all interfaces).
// 2. global fetch() to a non-loopback host is rejected locally with the same error shape that
//    Node gives when offline (TypeError "fetch failed"), so no traffic leaves the machine
//    (mcp-hub fetches its marketplace registry from the internet at start-up).
'use strict';
const net = require('net');
const LOOP = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const origListen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a0 = args[0];
  if ((typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1');
  } else if (a0 && typeof a0 === 'object' && !Array.isArray(a0) && a0.port !== undefined && !a0.host && !a0.path) {
    args[0] = Object.assign({}, a0, { host: '127.0.0.1' });
  }
  return origListen.apply(this, args);
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
      err.cause = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (blocked by loopback-guard: offline)`), { code: 'ENOTFOUND' });
      return Promise.reject(err);
    }
    return origFetch.call(this, input, init);
  };
}
