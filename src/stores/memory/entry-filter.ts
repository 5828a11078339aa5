import {
  type ActionLogDocument,
  type ActivityDocument,
  type ModelLogDocument,
  type RequestDocument,
  type UserRef,
  userIdText,
} from '../../shared/document.js';
import type { CustomFieldMatch, Entry, EntryKind, FacetField, StoreFilter } from '../store.js';

/** The time an entry of a kind is ordered by. */
export function timeOf(kind: EntryKind, entry: Entry): Date {
  switch (kind) {
    case 'actions':
      return (entry as ActionLogDocument).emitted_at;
    case 'activities':
      return (entry as ActivityDocument).activity_date;
    default:
      return (entry as RequestDocument | ModelLogDocument).timestamp;
  }
}

const requestUser = (doc: RequestDocument): UserRef | null => doc.details.request?.user_details ?? doc.details.run?.user_details ?? null;

const textOf = (user: UserRef | null | undefined): string | null => (user ? userIdText(user._id) : null);

/** Who an entry is by: the request's user, the action's actor, the activity's user. */
export function actorOf(kind: EntryKind, entry: Entry): string | null {
  switch (kind) {
    case 'requests':
      return textOf(requestUser(entry as RequestDocument));
    case 'actions':
      return (entry as ActionLogDocument).actor_id;
    case 'changes':
      return textOf((entry as ModelLogDocument).user);
    case 'activities':
      return textOf((entry as ActivityDocument).user);
  }
}

/** The values an entry has for a facet (several for tags). */
export function facetValues(kind: EntryKind, field: FacetField, entry: Entry): string[] {
  if (field === 'actor_id') return present(actorOf(kind, entry));
  if (field === 'tag_type') return (entry as ActionLogDocument).tags.map((t) => t.type);
  return present((entry as unknown as Record<string, unknown>)[field]);
}

const present = (value: unknown): string[] => (value === null || value === undefined ? [] : [`${value as string | number}`]);

/** Whether an entry's `expires_at` (option `retentionDays`) is at or before `now`: no read returns it any more. */
export function isExpired(entry: object, now: Date): boolean {
  const expiresAt = (entry as { expires_at?: Date }).expires_at;
  return expiresAt instanceof Date && expiresAt <= now;
}

/**
 * Whether an entry of a kind matches a (validated) filter, with the semantics every store implements: an expired
 * entry never does.
 */
export function matches(kind: EntryKind, entry: Entry, f: StoreFilter, now = new Date()): boolean {
  if (f.purgeable) {
    const old = f.purgeable.before !== undefined && timeOf(kind, entry) < f.purgeable.before;
    if (!old && !isExpired(entry, f.purgeable.expiredAt)) return false;
  } else if (!f.include_expired && isExpired(entry, now)) return false;
  const doc = entry as unknown as Record<string, unknown>;
  for (const key of ['request_uuid', 'correlation_id', 'module'] as const) {
    if (f[key] !== undefined && doc[key] !== f[key]) return false;
  }
  if (f.actor_id !== undefined && actorOf(kind, entry) !== f.actor_id) return false;
  const time = timeOf(kind, entry);
  if (f.from !== undefined && !(time >= f.from)) return false;
  if (f.to !== undefined && !(time <= f.to)) return false;
  switch (kind) {
    case 'requests':
      return matchesRequest(entry as RequestDocument, f);
    case 'actions':
      return matchesAction(entry as ActionLogDocument, f);
    case 'changes':
      return matchesChange(entry as ModelLogDocument, f);
    case 'activities':
      return true;
  }
}

function matchesRequest(doc: RequestDocument, f: StoreFilter): boolean {
  if (f.model !== undefined || f.model_id !== undefined) {
    const hit = doc.details.model_logs.some(
      (m) => (f.model === undefined || m.model === f.model) && (f.model_id === undefined || m.model_id === f.model_id),
    );
    if (!hit) return false;
  }
  if (f.method !== undefined && doc.details.request?.method !== f.method) return false;
  if (f.route !== undefined && doc.details.request?.route !== f.route) return false;
  return f.status === undefined || doc.details.response?.status_code === f.status;
}

function matchesAction(doc: ActionLogDocument, f: StoreFilter): boolean {
  if (!f.include_inactive && !doc.is_active) return false;
  for (const key of ['action_type', 'action_category', 'target_type', 'target_id'] as const) {
    if (f[key] !== undefined && doc[key] !== f[key]) return false;
  }
  if (f.tag_type !== undefined || f.tag_ref !== undefined) {
    const hit = doc.tags.some(
      (t) => (f.tag_type === undefined || t.type === f.tag_type) && (f.tag_ref === undefined || t.ref === f.tag_ref),
    );
    if (!hit) return false;
  }
  if (f.entity_ref !== undefined && !(doc.entity_path ?? []).some((item) => item.ref === f.entity_ref)) return false;
  if (f.custom && !f.custom.every((match) => matchesCustom(doc, match))) return false;
  return f.q === undefined || matchesText(doc, f.q);
}

function matchesChange(doc: ModelLogDocument, f: StoreFilter): boolean {
  if (f.model !== undefined && doc.model !== f.model) return false;
  if (f.model_id !== undefined && doc.model_id !== f.model_id) return false;
  if (f.action !== undefined && doc.action !== f.action) return false;
  return f.changed_field === undefined || doc.model_details.changed_fields.includes(f.changed_field);
}

/** A custom field: an element `{ name, value }` of a list, or a property of an object. */
function matchesCustom(doc: ActionLogDocument, match: CustomFieldMatch): boolean {
  const holder: unknown = match.in === 'details' ? doc.details : match.in === 'source' ? doc.source : doc.actor?.extra;
  if (Array.isArray(holder)) {
    return holder.some((field: { name?: unknown; value?: unknown }) => field.name === match.name && field.value === match.value);
  }
  return holder !== null && typeof holder === 'object' && (holder as Record<string, unknown>)[match.name] === match.value;
}

/** Every word of `q` in the note or a name, case and accents aside (what the stores' text indexes do, roughly). */
function matchesText(doc: ActionLogDocument, q: string): boolean {
  const text = fold([doc.note, doc.target?.name, doc.actor?.name].filter((s) => typeof s === 'string').join(' '));
  const words = new Set(text.split(/[^\p{L}\p{N}]+/u));
  return fold(q)
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .every((word) => words.has(word));
}

const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
