import { isObjectId, type UserId, type UserRef, userIdText } from '../shared/document.js';
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
 * A user id keeping its type: an ObjectId stays one (immutable, kept as is) and a finite number stays a number, so
 * a `$lookup` or a join from `lookup_from` matches the user's own key; anything else as a bounded string.
 */
function userId(value: unknown): UserId | undefined {
  if (isObjectId(value)) return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return field(value);
}

/**
 * A user reference as stored, whatever `describeUser` returned: only `lookup_from`, `_id`, `label` and `email`;
 * `_id` keeps its type (ObjectId, number, string), the others are storable strings; strings are at most 256
 * characters; null when `lookup_from` or `_id` is missing.
 */
export function storedUserRef(value: unknown): UserRef | null {
  if (value === null || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  const lookupFrom = field(v.lookup_from);
  const id = userId(v._id);
  if (!lookupFrom || id === undefined) return null;
  const ref: UserRef = { lookup_from: lookupFrom, _id: id, label: field(v.label) ?? userIdText(id) };
  const email = typeof v.email === 'string' ? field(v.email) : undefined;
  if (email) ref.email = email;
  return ref;
}

/** The first of these that identifies a user, keeping its type (see `userId`). */
function firstId(...values: unknown[]): UserId | undefined {
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const id = typeof value === 'bigint' ? field(value) : userId(value);
    if (id !== undefined) return id;
  }
  return undefined;
}

/**
 * The default `describeUser`: a string, number or ObjectId is the id; an object gives `_id`/`id`, a label from
 * `name`/`username`/`email`, and `email`. Ids keep their type; nothing else of the user object is stored.
 */
export function defaultDescribeUser(lookupFrom: string): DescribeUser {
  return (user) => {
    if (user === null || user === undefined || user === false) return null;
    if (typeof user !== 'object' || isObjectId(user)) {
      const id = firstId(user);
      return id === undefined ? null : storedUserRef({ lookup_from: lookupFrom, _id: id });
    }
    const u = user as Record<string, unknown>;
    // Already a reference: taken field by field, as any other (see storedUserRef).
    if (typeof u.lookup_from === 'string' && u._id !== undefined && typeof u.label === 'string') return storedUserRef(u);
    const id = firstId(u._id, u.id, u.sub, u.uuid);
    if (id === undefined) return null;
    const email = typeof u.email === 'string' && u.email ? u.email : undefined;
    return storedUserRef({
      lookup_from: lookupFrom,
      _id: id,
      label: text(u.name) ?? text(u.username) ?? text(u.displayName) ?? email ?? userIdText(id),
      email,
    });
  };
}
