import { isPlainObject, setOwn } from './plain-objects.js';

/**
 * A deep copy of stored data (plain objects, arrays, Dates), several times cheaper than structuredClone.
 * Other objects (ObjectId, Decimal128...) are immutable values and are kept as they are.
 */
export function copyDocument<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyDocument) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    setOwn(out, key, copyDocument(value[key]));
  }
  return out as T;
}
