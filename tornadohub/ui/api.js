// The hub's REST API and its event stream, with the user's API key when the hub has keys.
//
// The key lives in sessionStorage: it stays in this tab only and is gone when the tab
// closes; it never goes into a URL (history, logs, Referer) or a cookie (which the browser
// would send with other sites' requests too). It is sent as an Authorization header, which
// an EventSource cannot do: the event stream is read with fetch() and a stream reader.

const KEY_ITEM = 'tornadohub.apiKey';
let keyRequired = () => {};

export const apiKey = {
  get() {
    try { return sessionStorage.getItem(KEY_ITEM); } catch { return null; }
  },
  set(value) { sessionStorage.setItem(KEY_ITEM, value); },
  clear() { sessionStorage.removeItem(KEY_ITEM); },
};

/** Called (with the error body) whenever the hub answers 401. */
export function onKeyRequired(handler) {
  keyRequired = handler;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && typeof body.error === 'string' && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code !== undefined ? body.code : null;
    this.data = body && typeof body.data === 'object' ? body.data : null;
  }
}

function headers(accept) {
  const out = { Accept: accept };
  const key = apiKey.get();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

/** One REST call; the parsed JSON answer, or an ApiError. */
export async function api(method, path, body) {
  const init = { method, headers: headers('application/json'), cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, { error: `The hub did not answer: ${error.message}`, code: 'NETWORK_ERROR' });
  }
  const text = await response.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = { error: text.slice(0, 300) };
  }
  if (response.status === 401) keyRequired(payload);
  if (!response.ok) throw new ApiError(response.status, payload);
  return payload;
}

/** Split Server-Sent Events text into frames: [{event, data}], and the unfinished rest. */
export function parseFrames(buffer) {
  const frames = [];
  const text = buffer.replace(/\r\n?/g, '\n');
  let start = 0;
  let end;
  while ((end = text.indexOf('\n\n', start)) >= 0) {
    let event = 'message';
    const data = [];
    for (const line of text.slice(start, end).split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length) frames.push({ event, data: data.join('\n') });
    start = end + 2;
  }
  return { frames, rest: text.slice(start) };
}

/**
 * Follow /api/events: onEvent(name, payload) for every frame, onStatus('connecting' |
 * 'live' | 'offline' | 'locked'). Reconnects with a growing pause; on 401 it stops until
 * restart() (after the user gave a key).
 */
export function eventStream({ onEvent, onStatus }) {
  let controller = null;
  let running = false;
  let pause = 500;
  let wake = null;

  async function readOnce() {
    controller = new AbortController();
    onStatus('connecting');
    const response = await fetch('/api/events', {
      headers: headers('text/event-stream'), cache: 'no-store', credentials: 'omit', signal: controller.signal,
    });
    if (response.status === 401) {
      keyRequired(null);
      return 'locked';
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    onStatus('live');
    pause = 500;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'ended';
      const parsed = parseFrames(buffer + value);
      buffer = parsed.rest;
      for (const frame of parsed.frames) {
        let payload;
        try { payload = JSON.parse(frame.data); } catch { continue; }
        onEvent(frame.event, payload);
      }
    }
  }

  async function loop() {
    running = true;
    while (running) {
      let outcome;
      try {
        outcome = await readOnce();
      } catch {
        outcome = 'failed';
      }
      if (!running) break;
      if (outcome === 'locked') {
        onStatus('locked');
        running = false;
        break;
      }
      onStatus('offline');
      await new Promise((resolve) => { wake = resolve; setTimeout(resolve, pause); });
      pause = Math.min(pause * 2, 10000);
    }
  }

  loop();
  return {
    /** Stop reading (the page is going away: its connection must not linger). */
    close() {
      running = false;
      if (wake) wake();
      if (controller) controller.abort();
    },
    restart() {
      pause = 500;
      if (running) {
        if (wake) wake();
        if (controller) controller.abort();
      } else {
        loop();
      }
    },
  };
}
