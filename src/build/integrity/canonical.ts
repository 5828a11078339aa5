import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { isObjectId } from '../../shared/document.js';
import { isPlainObject, setOwn } from '../../shared/plain-objects.js';
import { unescapeKey } from '../sanitize/keys.js';
import { plain, storedJson } from './stored-json.js';

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

/** RFC 8785 canonical JSON of a value's stored form (`storedJson`, or the general path for what it leaves). */
export function canonicalJson(value: unknown): string {
  return storedJson(value) ?? canonicalize(storedForm(value)) ?? 'null';
}

export const sha256 = (text: string | Buffer): string => hash('sha256', text, 'hex');

/** The fields a link's hash leaves out: the store's own id, and the link itself. */
const UNHASHED: readonly string[] = ['_id', 'integrity'];

/** How a link's hash is made, beyond the entry and `prev`. */
export interface LinkHashOptions {
  /** Further top-level fields left out (an action's `is_active`, which `deactivate` changes and records as an action). */
  omit?: readonly string[];
  /** See `storedJson`. */
  texts?: Map<object, string>;
}

/**
 * The hash of an entry's link: SHA-256 of the canonical JSON of the entry without `_id` and `integrity` (and
 * `omit`), followed by `prev`.
 */
export function linkHash(entry: object, prev: string, { omit = [], texts }: LinkHashOptions = {}): string {
  const leftOut = omit.length === 0 ? UNHASHED : [...UNHASHED, ...omit];
  return sha256((storedJson(entry, leftOut, texts) ?? canonicalJson(hashedPart(entry, leftOut))) + prev);
}

/** The entry less the fields its hash leaves out: what the general path serializes. */
function hashedPart(entry: object, leftOut: readonly string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) if (!leftOut.includes(key)) body[key] = value;
  return body;
}
