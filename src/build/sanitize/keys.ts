import { isPlainObject, setOwn } from '../../shared/plain-objects.js';

/**
 * Reversible escaping of keys MongoDB cannot store safely (a leading `$`, any `.`), plus `__proto__`.
 * `%` is escaped too, so that every escaped key decodes back to exactly the original.
 */

export function needsEscape(key: string): boolean {
  return key.charCodeAt(0) === 36 /* $ */ || key.includes('.') || key.includes('%') || key === '__proto__';
}

/** Escapes one key: `%` → `%25`, `.` → `%2E`, leading `$` → `%24`, `__proto__` → `%5F_proto__`. */
export function escapeKey(key: string): string {
  if (!needsEscape(key)) return key;
  if (key === '__proto__') return '%5F_proto__';
  let out = key.replace(/%/g, '%25').replace(/\./g, '%2E');
  if (out.charCodeAt(0) === 36) out = '%24' + out.slice(1);
  return out;
}

const ESCAPES: Record<string, string> = { '%25': '%', '%2E': '.', '%24': '$', '%5F': '_' };

/** Reverses `escapeKey`. */
export function unescapeKey(key: string): string {
  if (!key.includes('%')) return key;
  return key.replace(/%(25|2E|24|5F)/g, (m) => ESCAPES[m] ?? m);
}

/**
 * Returns `value` with every escaped key of its plain objects decoded, as new objects.
 * Non-plain values (Date, ObjectId...) are kept as they are. `__proto__` comes back as an own property.
 */
export function unescapeKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => unescapeKeys(v)) as T;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    setOwn(out, unescapeKey(key), unescapeKeys(value[key]));
  }
  return out as T;
}
