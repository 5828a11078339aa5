import type { UserRef } from '../shared/document.js';
import { storable } from '../shared/strings.js';

/** Turns whatever identifies a user into a stored reference. */
export type DescribeUser = (user: unknown) => UserRef | null;

function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value || undefined;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'object') {
    const v = value as { toHexString?: () => string; _bsontype?: unknown; toString(): string };
    if (typeof v.toHexString === 'function') return v.toHexString();
    if (v._bsontype !== undefined) return v.toString();
  }
  return undefined;
}

/** Longest `lookup_from`, `_id`, `label` or `email` kept in a user reference. */
export const USER_FIELD_MAX = 256;

function field(value: unknown): string | undefined {
  const s = text(value);
  return s === undefined ? undefined : storable(s.length > USER_FIELD_MAX ? s.slice(0, USER_FIELD_MAX) : s);
}

/**
 * A user reference as stored, whatever `describeUser` returned: only `lookup_from`, `_id`, `label` and `email`,
 * each a storable string of at most 256 characters; null when `lookup_from` or `_id` is missing.
 */
export function storedUserRef(value: unknown): UserRef | null {
  if (value === null || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  const lookupFrom = field(v.lookup_from);
  const id = field(v._id);
  if (!lookupFrom || id === undefined) return null;
  const ref: UserRef = { lookup_from: lookupFrom, _id: id, label: field(v.label) ?? id };
  const email = typeof v.email === 'string' ? field(v.email) : undefined;
  if (email) ref.email = email;
  return ref;
}

/**
 * The default `describeUser`: a string or number is the id; an object gives `_id`/`id`, a label from
 * `name`/`username`/`email`, and `email`. Nothing else of the user object is stored.
 */
export function defaultDescribeUser(lookupFrom: string): DescribeUser {
  return (user) => {
    if (user === null || user === undefined || user === false) return null;
    const scalar = text(user);
    if (scalar !== undefined && typeof user !== 'object') return { lookup_from: lookupFrom, _id: scalar, label: scalar };
    if (typeof user !== 'object') return null;
    const u = user as Record<string, unknown>;
    // Already a reference: taken field by field, as any other (see storedUserRef).
    if (typeof u.lookup_from === 'string' && typeof u._id === 'string' && typeof u.label === 'string') return storedUserRef(u);
    const id = text(u._id) ?? text(u.id) ?? text(u.sub) ?? text(u.uuid);
    if (id === undefined) return null;
    const email = typeof u.email === 'string' && u.email ? u.email : undefined;
    return storedUserRef({
      lookup_from: lookupFrom,
      _id: id,
      label: text(u.name) ?? text(u.username) ?? text(u.displayName) ?? email ?? id,
      email,
    });
  };
}
