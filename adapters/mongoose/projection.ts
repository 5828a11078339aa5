/* A find projection applied to a whole document, where its outcome is plain: top-level fields, in or out. */

import type { Raw } from './mongoose-types.js';

const isFlag = (value: unknown) => value === 0 || value === 1 || value === true || value === false;

/**
 * Whether `projection` only names top-level fields to include or exclude (`{ s: 1 }`, `{ secret: 0 }`,
 * `{ _id: 0, s: 1 }`), so that applying it here gives what the server gives. Dotted paths, operators
 * (`$slice`, `$elemMatch`, `$meta`), expressions and mixes the server refuses are not.
 */
export function isTopLevelProjection(projection: unknown): boolean {
  if (projection === undefined || projection === null) return true;
  if (typeof projection !== 'object' || Array.isArray(projection)) return false;
  const entries = Object.entries(projection as Raw);
  if (entries.some(([key, value]) => key.includes('.') || key.startsWith('$') || !isFlag(value))) return false;
  const kinds = new Set(entries.filter(([key]) => key !== '_id').map(([, value]) => Boolean(value)));
  return kinds.size <= 1;
}

/** `doc` as a top-level projection shows it (see `isTopLevelProjection`); fields keep the document's order. */
export function projectTopLevel(doc: Raw | null, projection: unknown): Raw | null {
  if (doc === null || projection === undefined || projection === null) return doc;
  const fields = projection as Raw;
  const keys = Object.keys(fields);
  if (keys.length === 0) return doc;
  const including = keys.some((key) => key !== '_id' && Boolean(fields[key])) || (keys.length === 1 && Boolean(fields._id));
  const out: Raw = {};
  for (const [key, value] of Object.entries(doc)) {
    const named = Object.hasOwn(fields, key);
    // `_id` comes along with included fields unless it is excluded by name.
    const kept = including ? (named ? Boolean(fields[key]) : key === '_id') : !named || Boolean(fields[key]);
    if (kept) out[key] = value;
  }
  return out;
}
