import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { isObjectId } from '../../shared/document.js';
import { isPlainObject, setOwn } from '../../shared/plain-objects.js';
import { unescapeKey } from '../sanitize/keys.js';

/** The `prev` of a chain's first entry, and of a writer's first checkpoint. */
export const GENESIS = '0'.repeat(64);

/**
 * A stored value in the one form every store gives back alike: keys unescaped (as reads return them), dates as ISO
 * 8601 text, ObjectIds as their hex, and properties that are `null` or `undefined` left out (a SQL column reads
 * back `null` where a MongoDB document has no field). What a writer hashes and a verifier recomputes.
 */
export function storedForm(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (isObjectId(value)) return value.toHexString();
  if (Array.isArray(value)) return value.map((item) => storedForm(item));
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return value;
  const source: Record<string, unknown> = isPlainObject(value) ? value : plain(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const item = source[key];
    if (item === null || item === undefined) continue;
    setOwn(out, unescapeKey(key), storedForm(item));
  }
  return out;
}

/** A class instance as its JSON (`toJSON`), or its own enumerable properties. */
function plain(value: object): Record<string, unknown> {
  const json = (value as { toJSON?: () => unknown }).toJSON?.();
  if (json !== undefined && json !== value) {
    return isPlainObject(json) ? json : { value: json };
  }
  return Object.assign({}, value) as Record<string, unknown>;
}

/** RFC 8785 canonical JSON of a value's stored form. */
export function canonicalJson(value: unknown): string {
  return canonicalize(storedForm(value)) ?? 'null';
}

export const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

/** The fields a link's hash leaves out: the store's own id, the link itself, and what may change legitimately. */
const UNHASHED = new Set(['_id', 'integrity']);

/**
 * The hash of an entry's link: SHA-256 of the canonical JSON of the entry without `_id` and `integrity`,
 * followed by `prev`. `omit` names further top-level fields left out (an action's `is_active`, which
 * `deactivate` changes on purpose and records as an action of its own).
 */
export function linkHash(entry: object, prev: string, omit: readonly string[] = []): string {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) if (!UNHASHED.has(key) && !omit.includes(key)) body[key] = value;
  return sha256(canonicalJson(body) + prev);
}
