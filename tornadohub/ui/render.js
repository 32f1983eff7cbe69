// What tools, resources and prompts return, shown as text, images and resources. Server
// text is always text: it goes through textContent, and only base64 images of image
// types become (data:) images.

import { h, jsonDetails } from './dom.js';

const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|bmp|avif|svg\+xml)$/;
const AUDIO_TYPES = /^audio\/[a-z0-9.+-]+$/;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

function dataUrl(mime, data) {
  return `data:${mime};base64,${String(data).replace(/\s+/g, '')}`;
}

function media(mime, data, label) {
  const type = String(mime || '').toLowerCase();
  if (typeof data !== 'string' || !BASE64.test(data)) return h('p', { class: 'muted' }, `[${label}: not base64]`);
  if (IMAGE_TYPES.test(type)) return h('img', { class: 'result-image', src: dataUrl(type, data), alt: label });
  if (AUDIO_TYPES.test(type)) return h('audio', { controls: true, src: dataUrl(type, data) });
  const bytes = Math.floor((data.replace(/\s+/g, '').length * 3) / 4);
  return h('p', { class: 'muted' }, `[${label}: ${type || 'binary'}, about ${bytes} bytes]`);
}

/** One resource's contents ({uri, mimeType, text | blob}). */
export function resourceContents(contents) {
  const head = h('p', { class: 'resource-head' }, h('code', null, String(contents.uri ?? '')),
    contents.mimeType ? h('span', { class: 'muted' }, ` ${contents.mimeType}`) : null);
  let body;
  if (typeof contents.text === 'string') body = h('pre', { class: 'text' }, contents.text);
  else if (contents.blob !== undefined) body = media(contents.mimeType, contents.blob, `contents of ${contents.uri}`);
  else body = jsonDetails('Contents', contents, true);
  return h('div', { class: 'resource' }, head, body);
}

/** One MCP content block (text, image, audio, resource_link, resource). */
export function contentBlock(block) {
  if (!block || typeof block !== 'object') return h('pre', { class: 'text' }, JSON.stringify(block));
  switch (block.type) {
    case 'text':
      return h('pre', { class: 'text' }, String(block.text ?? ''));
    case 'image':
      return media(block.mimeType, block.data, 'Image returned by the server');
    case 'audio':
      return media(block.mimeType, block.data, 'Audio returned by the server');
    case 'resource_link':
      return h('div', { class: 'resource' }, h('p', { class: 'resource-head' }, 'Link to ',
        h('code', null, String(block.uri ?? '')), block.name ? ` (${block.name})` : null),
      block.description ? h('p', { class: 'muted' }, block.description) : null);
    case 'resource':
      return h('div', { class: 'embedded' }, h('p', { class: 'label' }, 'Embedded resource'),
        resourceContents(block.resource || {}));
    default:
      return jsonDetails(`Content of type ${String(block.type)}`, block, true);
  }
}

/** A tools/call result; isError results say so first. */
export function toolResult(result) {
  const out = h('div', { class: result && result.isError ? 'result result-error' : 'result' });
  if (result && result.isError) out.append(h('p', { class: 'error-banner' }, 'The tool reported an error:'));
  for (const block of (result && Array.isArray(result.content)) ? result.content : []) out.append(contentBlock(block));
  if (result && result.structuredContent !== undefined) out.append(jsonDetails('Structured content', result.structuredContent));
  out.append(jsonDetails('Raw result', result));
  return out;
}

/** A resources/read result. */
export function resourceResult(result) {
  const contents = result && Array.isArray(result.contents) ? result.contents : [];
  return h('div', { class: 'result' }, contents.map(resourceContents), jsonDetails('Raw result', result));
}

/** A prompts/get result: its messages, role by role. */
export function promptResult(result) {
  const messages = result && Array.isArray(result.messages) ? result.messages : [];
  return h('div', { class: 'result' },
    result && result.description ? h('p', { class: 'muted' }, result.description) : null,
    messages.map((message) => h('div', { class: 'message' },
      h('p', { class: 'label' }, String(message.role ?? '')), contentBlock(message.content))),
    jsonDetails('Raw result', result));
}

/** An API error: message, code and data. */
export function apiError(error) {
  return h('div', { class: 'result result-error', role: 'alert' },
    h('p', { class: 'error-banner' }, error.message || String(error)),
    error.code !== null && error.code !== undefined ? h('p', { class: 'muted' }, `Code: ${error.code}`) : null,
    error.data && Object.keys(error.data).length ? jsonDetails('Details', error.data) : null);
}
