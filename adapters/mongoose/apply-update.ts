/* The state a MongoDB update produces, where it follows exactly from the document before it. */

import { copyDocument } from 'actionlog/adapter-kit';

type Doc = Record<string, unknown>;

/** Where an update path lands: the container and key to write, or why it cannot be known here. */
type Slot = { parent: Doc | unknown[]; key: string } | 'missing' | 'not-exact';

/** Names that would reach an object's prototype if used as keys in JavaScript (MongoDB stores them as fields). */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const isIndex = (key: string) => /^(0|[1-9]\d*)$/.test(key);

/**
 * The container of `path`'s last segment in `doc`. With `create`, missing objects on the way are made (as
 * MongoDB does); without, a missing one means the path is absent. Positional segments (`$`, `$[]`, `$[id]`) need
 * the query to resolve; paths through arrays or JavaScript's prototype keys are left to a read back.
 */
function slotOf(doc: Doc, path: string, create: boolean): Slot {
  const parts = path.split('.');
  const last = parts.pop() ?? '';
  let cur: Doc | unknown[] = doc;
  for (const part of [...parts, last]) if (part.startsWith('$') || UNSAFE_KEYS.has(part)) return 'not-exact';
  for (const part of parts) {
    if (Array.isArray(cur)) {
      // Into an existing element only: MongoDB pads with nulls and makes objects where one is missing.
      const element = isIndex(part) ? cur[Number(part)] : undefined;
      if (element === null || typeof element !== 'object') return 'not-exact';
      cur = element as Doc | unknown[];
      continue;
    }
    const next = cur[part];
    if (next === undefined) {
      if (!create) return 'missing';
      const made: Doc = {};
      cur[part] = made;
      cur = made;
      continue;
    }
    if (next === null || typeof next !== 'object') return create ? 'not-exact' : 'missing';
    cur = next as Doc | unknown[];
  }
  if (Array.isArray(cur) && !isIndex(last)) return 'not-exact';
  return { parent: cur, key: last };
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function read(parent: Doc | unknown[], key: string): unknown {
  return Array.isArray(parent) ? parent[Number(key)] : parent[key];
}

/** Writes like MongoDB: an array element past the end pads the array with nulls. */
function write(parent: Doc | unknown[], key: string, value: unknown): void {
  if (!Array.isArray(parent)) {
    parent[key] = value;
    return;
  }
  const index = Number(key);
  while (parent.length < index) parent.push(null);
  parent[index] = value;
}

/** Unsets like MongoDB: a field goes away, an array element becomes null (the array keeps its length). */
function unset(parent: Doc | unknown[], key: string): void {
  if (!Array.isArray(parent)) {
    Reflect.deleteProperty(parent, key);
    return;
  }
  const index = Number(key);
  if (index < parent.length) parent[index] = null;
}

/**
 * `doc` after `update` (a replacement, or `$set`/`$unset`/`$inc`/`$mul`/`$min`/`$max`/`$push` on plain paths),
 * or undefined when that cannot be known without reading the document back (pipelines, positional and
 * array-filter paths, `$currentDate`, `$pull`, `$addToSet`, non-numeric arithmetic...). `doc` is left alone.
 */
export function applyUpdate(doc: Doc, update: unknown): Doc | undefined {
  if (Array.isArray(update) || update === null || typeof update !== 'object') return undefined;
  const entries = Object.entries(update as Doc);
  const operators = entries.filter(([key]) => key.startsWith('$')).length;
  if (operators === 0) return { _id: doc._id, ...copyDocument(update as Doc) };
  if (operators !== entries.length) return undefined;
  const out = copyDocument(doc);
  for (const [op, args] of entries) {
    if (op === '$setOnInsert') continue;
    if (args === null || typeof args !== 'object') return undefined;
    for (const [path, value] of Object.entries(args as Doc)) {
      const slot = slotOf(out, path, op !== '$unset');
      if (slot === 'not-exact') return undefined;
      // Unsetting what is not there changes nothing.
      if (slot === 'missing') continue;
      if (!applyOperator(op, slot.parent, slot.key, value)) return undefined;
    }
  }
  return out;
}

/** Applies one operator to one field; false when its outcome cannot be known here. */
function applyOperator(op: string, parent: Doc | unknown[], key: string, value: unknown): boolean {
  const current = read(parent, key);
  switch (op) {
    case '$set':
      write(parent, key, copyDocument(value));
      return true;
    case '$unset':
      unset(parent, key);
      return true;
    case '$inc':
    case '$mul': {
      if (!isNumber(value) || (current !== undefined && !isNumber(current))) return false;
      const base = current ?? 0;
      const result = op === '$inc' ? base + value : base * value;
      // MongoDB has no negative zero for a product of zero (`$mul` of a missing field by a negative number).
      write(parent, key, Object.is(result, -0) ? 0 : result);
      return true;
    }
    case '$min':
    case '$max': {
      if (current === undefined) {
        write(parent, key, copyDocument(value));
        return true;
      }
      const comparable = (isNumber(current) && isNumber(value)) || (current instanceof Date && value instanceof Date);
      if (!comparable) return false;
      const a = Number(current);
      const b = Number(value);
      if ((op === '$min' && b < a) || (op === '$max' && b > a)) write(parent, key, copyDocument(value));
      return true;
    }
    case '$push': {
      const modifiers = value !== null && typeof value === 'object' && '$each' in value ? (value as Doc) : undefined;
      if (modifiers && (Object.keys(modifiers).some((k) => k !== '$each') || !Array.isArray(modifiers.$each))) return false;
      const items = modifiers ? (modifiers.$each as unknown[]) : [value];
      if (current !== undefined && !Array.isArray(current)) return false;
      write(parent, key, [...((current as unknown[] | undefined) ?? []), ...copyDocument(items)]);
      return true;
    }
    default:
      return false;
  }
}
