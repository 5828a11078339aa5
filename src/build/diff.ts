import { isPlainObject } from '../shared/plain-objects.js';

/**
 * Dotted paths that differ between two states of a record (`status`, `address.city`, `items.2.qty`).
 * Plain objects and arrays are compared member by member; anything else is compared as one value
 * (Dates by time, ObjectIds and other BSON values by their string form, binary data byte by byte).
 * A side that is null or missing contributes its whole top-level keys.
 */
export function diffObjects(oldObject: unknown, newObject: unknown): string[] {
  const changed: string[] = [];
  compare(oldObject ?? {}, newObject ?? {}, '', changed);
  return changed;
}

/** True when `path` is one of `omit` or lies inside one of them (`address.city` inside `address`). */
export function isOmittedPath(path: string, omit: ReadonlySet<string>): boolean {
  if (omit.has(path)) return true;
  for (let i = path.indexOf('.'); i !== -1; i = path.indexOf('.', i + 1)) {
    if (omit.has(path.slice(0, i))) return true;
  }
  return false;
}

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return Array.isArray(value) || isPlainObject(value);
}

function compare(a: unknown, b: unknown, path: string, out: string[]): void {
  if (isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b)) {
      const n = Math.max(a.length, b.length);
      for (let i = 0; i < n; i++) member(a[i], b[i], path, String(i), out);
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const key in ao) if (Object.hasOwn(ao, key)) member(ao[key], bo[key], path, key, out);
    for (const key in bo) if (Object.hasOwn(bo, key) && !Object.hasOwn(ao, key)) out.push(join(path, key));
    return;
  }
  if (!sameValue(a, b)) out.push(path);
}

/** Compares one member; its path is only built when it differs or has members of its own. */
function member(a: unknown, b: unknown, path: string, key: string, out: string[]): void {
  if (a === b && (typeof a !== 'object' || a === null)) return;
  compare(a, b, join(path, key), out);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Equality of two leaf values, as stored. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object') {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    return ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && Buffer.compare(bytes(a), bytes(b)) === 0;
  }
  const ta = (a as { _bsontype?: unknown })._bsontype;
  const tb = (b as { _bsontype?: unknown })._bsontype;
  // BSON values (ObjectId, Decimal128...) and other class instances compare by their string form.
  if (ta !== undefined || tb !== undefined) return ta === tb && stringForm(a) === stringForm(b);
  if (isContainer(a) || isContainer(b)) {
    if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
    const out: string[] = [];
    compare(a, b, '', out);
    return out.length === 0;
  }
  return stringForm(a) === stringForm(b);
}

function stringForm(value: object): string {
  return (value as { toString(): string }).toString();
}

function bytes(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
