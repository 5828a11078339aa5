import { isPlainObject } from '../shared/plain-objects.js';

/** How deep `diffObjects` names changed paths; below it, a changed subtree is named by its path at this depth. */
export const DIFF_DEPTH = 20;

/**
 * Dotted paths that differ between two states of a record (`status`, `address.city`, `items.2.qty`), named down
 * to `maxDepth` levels (default `DIFF_DEPTH`, the sanitizer's depth); a change deeper than that is named by its
 * path at that depth, so nothing is missed and a hostile state costs no stack. Plain objects and arrays are
 * compared member by member; anything else as one value (see `sameValue`). A side that is null or missing
 * contributes its whole top-level keys; a reference cycle is compared by identity.
 */
export function diffObjects(oldObject: unknown, newObject: unknown, maxDepth = DIFF_DEPTH): string[] {
  const changed: string[] = [];
  compare(oldObject ?? {}, newObject ?? {}, '', 0, maxDepth, [], (path) => changed.push(path));
  return changed;
}

/** One changed path with its value before and after (`null` where it did not exist). */
export interface FieldChange {
  path: string;
  old: unknown;
  new: unknown;
}

/**
 * The changes between two states of a record: each changed path (as `diffObjects` names them) with its old and
 * new value. `diff({ status: 'new' }, { status: 'paid' })` → `[{ path: 'status', old: 'new', new: 'paid' }]`.
 */
export function diff(oldObject: unknown, newObject: unknown, maxDepth = DIFF_DEPTH): FieldChange[] {
  const changes: FieldChange[] = [];
  compare(oldObject ?? {}, newObject ?? {}, '', 0, maxDepth, [], (path, a, b) => changes.push({ path, old: a ?? null, new: b ?? null }));
  return changes;
}

/** Receives each changed path with its two values. */
type Emit = (path: string, a: unknown, b: unknown) => void;

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

function compare(a: unknown, b: unknown, path: string, depth: number, maxDepth: number, ancestors: object[], out: Emit): void {
  // Leaves first: most members of a record are.
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    if (!sameValue(a, b)) out(path, a, b);
    return;
  }
  const containers = isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b);
  if (!containers || depth >= maxDepth || ancestors.includes(a) || ancestors.includes(b)) {
    if (!sameValue(a, b)) out(path, a, b);
    return;
  }
  ancestors.push(a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) member(a[i], b[i], path, String(i), depth, maxDepth, ancestors, out);
  } else {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const key in ao) if (Object.hasOwn(ao, key)) member(ao[key], bo[key], path, key, depth, maxDepth, ancestors, out);
    for (const key in bo) if (Object.hasOwn(bo, key) && !Object.hasOwn(ao, key)) out(join(path, key), undefined, bo[key]);
  }
  ancestors.length -= 2;
}

/** Compares one member; its path is only built when it differs or has members of its own. */
function member(a: unknown, b: unknown, path: string, key: string, depth: number, maxDepth: number, ancestors: object[], out: Emit): void {
  if (a === b && (typeof a !== 'object' || a === null)) return;
  compare(a, b, join(path, key), depth + 1, maxDepth, ancestors, out);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/**
 * Equality of two values as stored, at any depth, without recursion (a state thousands of levels deep costs no
 * stack): Dates by time, binary data byte by byte, ObjectIds and other BSON values by their string form, Maps and
 * Sets by their entries in order, other class instances by their `toJSON` form or own fields. Cycles compare equal
 * where they loop back alike.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  // Two leaves (most changed fields) are settled here, before the walk's list and map are made.
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return Number.isNaN(a) && Number.isNaN(b);
  const pending: Array<[unknown, unknown]> = [[a, b]];
  const seen = new Map<object, Set<object>>();
  for (let pair = pending.pop(); pair; pair = pending.pop()) {
    const [x, y] = pair;
    if (x === y) continue;
    if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object') {
      if (typeof x === 'number' && typeof y === 'number' && Number.isNaN(x) && Number.isNaN(y)) continue;
      return false;
    }
    // A pair already being compared is assumed equal: a cycle ends there.
    const against = seen.get(x);
    if (against?.has(y)) continue;
    if (against) against.add(y);
    else seen.set(x, new Set([y]));
    const members = membersOf(x, y);
    if (members === false) return false;
    if (members !== true) pending.push(...members);
  }
  return true;
}

/** The pairs to compare next for two objects, or the answer when they are leaves. */
function membersOf(x: object, y: object): Array<[unknown, unknown]> | boolean {
  if (x instanceof Date || y instanceof Date) return x instanceof Date && y instanceof Date && x.getTime() === y.getTime();
  if (ArrayBuffer.isView(x) || ArrayBuffer.isView(y)) {
    return ArrayBuffer.isView(x) && ArrayBuffer.isView(y) && Buffer.compare(bytes(x), bytes(y)) === 0;
  }
  const tx = (x as { _bsontype?: unknown })._bsontype;
  const ty = (y as { _bsontype?: unknown })._bsontype;
  if (tx !== undefined || ty !== undefined) return tx === ty && stringForm(x) === stringForm(y);
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    return x.map((item, i): [unknown, unknown] => [item, y[i]]);
  }
  if (x instanceof Map || y instanceof Map || x instanceof Set || y instanceof Set) {
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
    return [[[...(x as Map<unknown, unknown>)], [...(y as Map<unknown, unknown>)]]];
  }
  if (!isPlainObject(x) || !isPlainObject(y)) {
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
    const toJSON = (x as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return [[toJSON.call(x), (y as { toJSON(): unknown }).toJSON()]];
  }
  const xo = x as Record<string, unknown>;
  const yo = y as Record<string, unknown>;
  const pairs: Array<[unknown, unknown]> = [];
  for (const key in xo) {
    if (!Object.hasOwn(xo, key)) continue;
    // A member only one side has differs, unless it is undefined on the side that has it.
    if (!Object.hasOwn(yo, key) && xo[key] !== undefined) return false;
    pairs.push([xo[key], yo[key]]);
  }
  for (const key in yo) if (Object.hasOwn(yo, key) && !Object.hasOwn(xo, key) && yo[key] !== undefined) return false;
  return pairs;
}

function stringForm(value: object): string {
  return (value as { toString(): string }).toString();
}

function bytes(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
