// A form generated from a tool's JSON Schema (inputSchema), and the JSON it makes.
//
// Strings, numbers, integers, booleans, enums, arrays (add and remove items) and nested
// objects get their own controls; anything the form cannot represent (unions, free-form
// objects, tuples) gets a JSON text box. Local $refs ($defs) are followed, and
// `anyOf: [X, {type: null}]` (an optional X) is shown as X. read() validates, shows each
// field's message next to it, and returns {value, errors}.

import { h } from './dom.js';

const MAX_DEPTH = 8;
let counter = 0;

function uniqueId() {
  counter += 1;
  return `field-${counter}`;
}

function pointer(root, ref) {
  let node = root;
  for (const raw of ref.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(part in node)) return null;
    node = node[part];
  }
  return node && typeof node === 'object' ? node : null;
}

/** The schema to build a control from: $refs followed, optional-X unions unwrapped. */
export function resolveSchema(schema, root) {
  let current = schema && typeof schema === 'object' ? schema : {};
  for (let step = 0; step < 32; step += 1) {
    if (typeof current.$ref === 'string' && current.$ref.startsWith('#/')) {
      const target = pointer(root, current.$ref);
      if (!target) break;
      const { $ref, ...siblings } = current;
      current = { ...target, ...siblings };
      continue;
    }
    if (Array.isArray(current.allOf) && current.allOf.length === 1) {
      const { allOf, ...siblings } = current;
      current = { ...allOf[0], ...siblings };
      continue;
    }
    const union = current.anyOf || current.oneOf;
    if (Array.isArray(union)) {
      const kept = union.filter((branch) => !(branch && branch.type === 'null'));
      if (kept.length === 1) {
        const { anyOf, oneOf, ...siblings } = current;
        current = { ...kept[0], ...siblings };
        continue;
      }
    }
    break;
  }
  if (Array.isArray(current.type)) {
    const types = current.type.filter((type) => type !== 'null');
    if (types.length === 1) current = { ...current, type: types[0] };
  }
  return current;
}

/** Which control a (resolved) schema gets. */
export function kindOf(schema) {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return 'enum';
  if ('const' in schema) return 'const';
  switch (schema.type) {
    case 'string': return 'string';
    case 'integer': return 'integer';
    case 'number': return 'number';
    case 'boolean': return 'boolean';
    case 'array':
      return schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items) ? 'array' : 'json';
    case 'object':
      return schema.properties && Object.keys(schema.properties).length ? 'object' : 'json';
    default:
      return !schema.type && schema.properties ? 'object' : 'json';
  }
}

/** The text node holding a label's own text, in a span of its own (to renumber items). */
function wrapText(label) {
  const first = label.firstChild;
  if (first && first.nodeType === Node.TEXT_NODE) {
    const span = h('span', null, first.textContent);
    label.replaceChild(span, first);
    return span;
  }
  return first;
}

/** A name without case and separators: "user_name" and "User Name" read the same. */
function plain(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]/g, '');
}

function describeValue(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The pieces every single-control field shares: label, hint, error message. */
function frame(ctx, schema, control, { after = false } = {}) {
  const hintId = `${control.id}-hint`;
  const errorId = `${control.id}-error`;
  const label = h('label', { for: control.id }, ctx.label,
    ctx.required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null,
    ctx.title ? h('span', { class: 'title' }, ` ${ctx.title}`) : null);
  const hint = schema.description ? h('p', { class: 'hint', id: hintId }, schema.description) : null;
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  control.setAttribute('aria-describedby', [hint ? hintId : null, errorId].filter(Boolean).join(' '));
  control.dataset.path = ctx.path || '(arguments)';
  if (ctx.required) control.setAttribute('aria-required', 'true');
  const element = h('div', { class: after ? 'field field-inline' : 'field' },
    after ? [control, label] : [label, control], hint, error);
  function show(message) {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }
  return { element, show };
}

function result(ctx, control, present, value, message) {
  return { present, value, errors: message ? [{ path: ctx.path || '(arguments)', message, control }] : [] };
}

function stringField(schema, ctx) {
  const multiline = schema.format === 'textarea' || (schema.maxLength ?? 0) > 200;
  const control = multiline
    ? h('textarea', { id: uniqueId(), rows: 3 })
    : h('input', { id: uniqueId(), type: schema.format === 'password' ? 'password' : 'text', autocomplete: 'off' });
  const initial = ctx.initial !== undefined ? ctx.initial : schema.default;
  if (typeof initial === 'string') control.value = initial;
  if (Array.isArray(schema.examples) && typeof schema.examples[0] === 'string') control.placeholder = schema.examples[0];
  else if (schema.format) control.placeholder = schema.format;
  const { element, show } = frame(ctx, schema, control);
  return {
    element,
    clear: () => show(null),
    read() {
      const value = control.value;
      let message = null;
      if (value === '') {
        message = ctx.required ? 'Required' : null;
        show(message);
        return result(ctx, control, false, undefined, message);
      }
      if (schema.minLength !== undefined && [...value].length < schema.minLength) {
        message = `At least ${schema.minLength} characters`;
      } else if (schema.maxLength !== undefined && [...value].length > schema.maxLength) {
        message = `At most ${schema.maxLength} characters`;
      } else if (typeof schema.pattern === 'string') {
        try {
          if (!new RegExp(schema.pattern, 'u').test(value)) message = `Must match ${schema.pattern}`;
        } catch {
          // a pattern JavaScript cannot read: the server will judge
        }
      }
      show(message);
      return result(ctx, control, true, value, message);
    },
  };
}

function numberField(schema, ctx, integer) {
  const control = h('input', { id: uniqueId(), type: 'number', step: integer ? '1' : 'any', inputmode: integer ? 'numeric' : 'decimal' });
  if (typeof schema.minimum === 'number') control.min = String(schema.minimum);
  if (typeof schema.maximum === 'number') control.max = String(schema.maximum);
  const initial = ctx.initial !== undefined ? ctx.initial : schema.default;
  if (typeof initial === 'number') control.value = String(initial);
  const { element, show } = frame(ctx, schema, control);
  return {
    element,
    clear: () => show(null),
    read() {
      let message = null;
      if (control.validity.badInput) {
        message = integer ? 'Enter a whole number' : 'Enter a number';
        show(message);
        return result(ctx, control, true, undefined, message);
      }
      if (control.value === '') {
        message = ctx.required ? 'Required' : null;
        show(message);
        return result(ctx, control, false, undefined, message);
      }
      const value = Number(control.value);
      if (!Number.isFinite(value)) message = 'Enter a number';
      else if (integer && !Number.isInteger(value)) message = 'Enter a whole number';
      else if (typeof schema.minimum === 'number' && value < schema.minimum) message = `At least ${schema.minimum}`;
      else if (typeof schema.maximum === 'number' && value > schema.maximum) message = `At most ${schema.maximum}`;
      else if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) message = `More than ${schema.exclusiveMinimum}`;
      else if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) message = `Less than ${schema.exclusiveMaximum}`;
      else if (typeof schema.multipleOf === 'number' && schema.multipleOf > 0
        && Math.abs(value / schema.multipleOf - Math.round(value / schema.multipleOf)) > 1e-9) message = `A multiple of ${schema.multipleOf}`;
      show(message);
      return result(ctx, control, true, value, message);
    },
  };
}

function booleanField(schema, ctx) {
  const initial = ctx.initial !== undefined ? ctx.initial : schema.default;
  if (ctx.required || typeof initial === 'boolean') {
    const control = h('input', { id: uniqueId(), type: 'checkbox' });
    control.checked = initial === true;
    const { element, show } = frame(ctx, schema, control, { after: true });
    return { element, clear: () => show(null), read: () => result(ctx, control, true, control.checked, null) };
  }
  return choiceField(schema, ctx, [true, false]);
}

function choiceField(schema, ctx, choices) {
  const control = h('select', { id: uniqueId() });
  const initial = ctx.initial !== undefined ? ctx.initial : schema.default;
  const placeholder = ctx.required ? 'Choose…' : '(not set)';
  control.append(h('option', { value: '' }, placeholder));
  choices.forEach((choice, index) => {
    const option = h('option', { value: String(index) }, describeValue(choice));
    if (initial !== undefined && JSON.stringify(initial) === JSON.stringify(choice)) option.selected = true;
    control.append(option);
  });
  const { element, show } = frame(ctx, schema, control);
  return {
    element,
    clear: () => show(null),
    read() {
      if (control.value === '') {
        const message = ctx.required ? 'Choose one' : null;
        show(message);
        return result(ctx, control, false, undefined, message);
      }
      show(null);
      return result(ctx, control, true, choices[Number(control.value)], null);
    },
  };
}

function constField(schema, ctx) {
  const control = h('output', { id: uniqueId() }, describeValue(schema.const));
  const { element, show } = frame(ctx, schema, control);
  return { element, clear: () => show(null), read: () => result(ctx, control, ctx.required, schema.const, null) };
}

function jsonField(schema, ctx) {
  const control = h('textarea', { id: uniqueId(), rows: 3, class: 'code', spellcheck: 'false' });
  const initial = ctx.initial !== undefined ? ctx.initial : schema.default;
  if (initial !== undefined) control.value = JSON.stringify(initial, null, 2);
  const expected = schema.type === 'object' ? 'object' : schema.type === 'array' ? 'array' : null;
  control.placeholder = expected === 'object' ? '{"key": "value"}' : expected === 'array' ? '["a", "b"]' : 'JSON value';
  const { element, show } = frame({ ...ctx, label: `${ctx.label} (JSON)` }, schema, control);
  return {
    element,
    clear: () => show(null),
    read() {
      if (control.value.trim() === '') {
        const message = ctx.required ? 'Required' : null;
        show(message);
        return result(ctx, control, false, undefined, message);
      }
      let value;
      let message = null;
      try {
        value = JSON.parse(control.value);
      } catch (error) {
        message = `Not valid JSON: ${error.message}`;
      }
      if (!message && expected === 'object' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
        message = 'Enter a JSON object';
      } else if (!message && expected === 'array' && !Array.isArray(value)) {
        message = 'Enter a JSON array';
      }
      show(message);
      return result(ctx, control, true, value, message);
    },
  };
}

function arrayField(schema, ctx, root) {
  const list = h('ol', { class: 'array-items' });
  // Item paths are numbered when read (items may have been removed): "tags[#]" -> "tags[2]".
  const itemPrefix = `${ctx.path}[#]`;
  const items = [];
  const legendId = uniqueId();
  const error = h('p', { class: 'field-error', id: `${legendId}-error`, hidden: true });
  const add = h('button', { type: 'button', class: 'small', 'aria-label': `Add an item to ${ctx.label}` }, 'Add item');

  function renumber() {
    items.forEach((item, index) => {
      item.remove.setAttribute('aria-label', `Remove item ${index + 1} of ${ctx.label}`);
      item.label.textContent = item.label.textContent.replace(/^Item \d+/, `Item ${index + 1}`);
    });
  }

  function addItem(initial) {
    const index = items.length;
    const field = buildField(schema.items, root, {
      label: `Item ${index + 1}`, path: `${itemPrefix}`, required: true, depth: ctx.depth + 1, initial,
    });
    const remove = h('button', { type: 'button', class: 'small secondary' }, 'Remove');
    const row = h('li', null, field.element, remove);
    const label = field.element.querySelector('label, legend') || h('span');
    const item = { field, remove, row, label: label.firstChild ? wrapText(label) : label };
    remove.addEventListener('click', () => {
      const at = items.indexOf(item);
      items.splice(at, 1);
      row.remove();
      renumber();
      (items[at]?.remove || add).focus();
    });
    items.push(item);
    list.append(row);
    renumber();
    return item;
  }

  add.addEventListener('click', () => {
    const item = addItem(undefined);
    const first = item.row.querySelector('input, select, textarea, button');
    if (first) first.focus();
  });
  const initial = ctx.initial !== undefined ? ctx.initial : schema.default;
  if (Array.isArray(initial)) initial.forEach((value) => addItem(value));

  const hint = schema.description ? h('p', { class: 'hint' }, schema.description) : null;
  const element = h('fieldset', { class: 'array', 'aria-describedby': error.id, 'data-path': ctx.path },
    h('legend', { id: legendId }, ctx.label,
      ctx.required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null,
      ctx.title ? h('span', { class: 'title' }, ` ${ctx.title}`) : null),
    hint, list, add, error);
  function clear() {
    for (const item of items) item.field.clear();
    error.textContent = '';
    error.hidden = true;
  }
  return {
    element,
    clear,
    read() {
      const errors = [];
      const value = items.map((item, index) => {
        const read = item.field.read();
        for (const e of read.errors) {
          const path = e.path.startsWith(itemPrefix) ? `${ctx.path}[${index}]${e.path.slice(itemPrefix.length)}` : e.path;
          errors.push({ ...e, path });
        }
        return read.value;
      });
      let message = null;
      if (schema.minItems !== undefined && value.length < schema.minItems) message = `Add at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`;
      else if (schema.maxItems !== undefined && value.length > schema.maxItems) message = `At most ${schema.maxItems} items`;
      else if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) message = 'Items must differ';
      error.textContent = message || '';
      error.hidden = !message;
      if (message) errors.push({ path: ctx.path || '(arguments)', message, control: add });
      const present = ctx.required || value.length > 0;
      return { present, value, errors };
    },
  };
}

function objectField(schema, ctx, root) {
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const initial = ctx.initial !== undefined ? ctx.initial : schema.default;
  const children = Object.entries(schema.properties || {}).map(([name, property]) => ({
    name,
    field: buildField(property, root, {
      label: name,
      title: property && typeof property.title === 'string' && plain(property.title) !== plain(name) ? property.title : null,
      path: ctx.path ? `${ctx.path}.${name}` : name,
      required: required.has(name),
      depth: ctx.depth + 1,
      initial: initial && typeof initial === 'object' ? initial[name] : undefined,
    }),
  }));
  const content = children.map((child) => child.field.element);
  let element;
  if (ctx.top) {
    element = h('div', { class: 'form-fields' }, content);
  } else {
    const hint = schema.description ? h('p', { class: 'hint' }, schema.description) : null;
    element = h('fieldset', { class: 'object', 'data-path': ctx.path },
      h('legend', null, ctx.label, ctx.required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null,
        ctx.title ? h('span', { class: 'title' }, ` ${ctx.title}`) : null),
      hint, content);
  }
  function clear() {
    for (const child of children) child.field.clear();
  }
  return {
    element,
    clear,
    read() {
      const value = {};
      const errors = [];
      let any = false;
      for (const child of children) {
        const read = child.field.read();
        errors.push(...read.errors);
        if (read.present) {
          value[child.name] = read.value;
          any = true;
        }
      }
      if (!ctx.required && !any) {
        // an optional object left empty is not sent, and its required fields do not apply
        clear();
        return { present: false, value: undefined, errors: [] };
      }
      return { present: true, value, errors };
    },
  };
}

/** One field for *schema*; ctx: {label, path, required, depth, initial, top}. */
export function buildField(schema, root, ctx) {
  const resolved = resolveSchema(schema, root);
  const kind = ctx.depth > MAX_DEPTH ? 'json' : kindOf(resolved);
  switch (kind) {
    case 'string': return stringField(resolved, ctx);
    case 'integer': return numberField(resolved, ctx, true);
    case 'number': return numberField(resolved, ctx, false);
    case 'boolean': return booleanField(resolved, ctx);
    case 'enum': return choiceField(resolved, ctx, resolved.enum);
    case 'const': return constField(resolved, ctx);
    case 'array': return arrayField(resolved, ctx, root);
    case 'object': return objectField(resolved, ctx, root);
    default: return jsonField(resolved, ctx);
  }
}

/**
 * The form for a tool's inputSchema: {element, read()}; read() returns {value, errors}
 * where value is the arguments object and errors [{path, message, control}].
 */
export function buildForm(inputSchema, initial) {
  const root = inputSchema && typeof inputSchema === 'object' ? inputSchema : { type: 'object' };
  const resolved = resolveSchema(root, root);
  const kind = kindOf(resolved);
  if (kind !== 'object') {
    const bare = resolved.type === 'object' && kind === 'json' && !resolved.additionalProperties && !resolved.patternProperties;
    if (bare || Object.keys(resolved).length === 0) {
      return { element: h('p', { class: 'muted' }, 'No arguments.'), read: () => ({ value: {}, errors: [] }), clear() {} };
    }
    const field = buildField(root, root, { label: 'Arguments', path: '', required: true, depth: 0, initial });
    return {
      element: field.element,
      clear: field.clear,
      read() {
        const read = field.read();
        return { value: read.present ? read.value : {}, errors: read.errors };
      },
    };
  }
  const field = buildField(root, root, { label: 'Arguments', path: '', required: true, depth: 0, initial, top: true });
  return {
    element: field.element,
    clear: field.clear,
    read() {
      const read = field.read();
      return { value: read.value || {}, errors: read.errors };
    },
  };
}
