import type { UserRef } from '../shared/document.js';

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
    if (typeof u.lookup_from === 'string' && typeof u._id === 'string' && typeof u.label === 'string') return user as UserRef;
    const id = text(u._id) ?? text(u.id) ?? text(u.sub) ?? text(u.uuid);
    if (id === undefined) return null;
    const email = typeof u.email === 'string' && u.email ? u.email : undefined;
    const label = text(u.name) ?? text(u.username) ?? text(u.displayName) ?? email ?? id;
    const ref: UserRef = { lookup_from: lookupFrom, _id: id, label };
    if (email) ref.email = email;
    return ref;
  };
}
