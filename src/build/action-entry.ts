import type { ActionDraft } from '../capture/action/draft.js';
import { type ActionEntry, type ActorRef, type CustomField, isObjectId, type UserRef, userIdText } from '../shared/document.js';
import { type KeyRedactor, REDACTED } from './sanitize/redactor.js';
import type { Sanitizer } from './sanitize/sanitizer.js';
import { redactText } from './text.js';

/** Room for an entry's fields beside its free-form parts (names, ids, dates: each bounded). */
const ENTRY_FIELDS_BYTES = 16 * 1024;

/**
 * The stored entry of a parsed action: flat columns for the indexes beside the rich objects, free-form parts copied
 * and redacted now (the caller may change its objects after `record()` returns), the actor defaulting to `user`.
 * The free-form parts together are cut at `maxBytes` (each within the limits, many of them could make an entry no
 * store takes).
 */
export function actionEntry(draft: ActionDraft, user: UserRef | null | undefined, sanitizer: Sanitizer, maxBytes = Infinity): ActionEntry {
  // The walk stops once past its budget: room is left for the value that crossed it, and for the entry's own fields
  // (half of a small `maxDocumentBytes`).
  const room = Math.min(maxBytes / 2, sanitizer.limits.maxStringLength + ENTRY_FIELDS_BYTES);
  const clean = sanitizer.cleanerWithin(maxBytes - room);
  const fields = (list: CustomField[]) => redactedFields(list, sanitizer.redactor);
  const actor = draft.actor
    ? actorOf(draft.actor, clean, fields)
    : user
      ? { ref: isObjectId(user._id) ? userIdText(user._id) : user._id, type: 'user', name: user.label }
      : null;
  const target = draft.target;
  return {
    action_type: draft.action_type,
    action_category: draft.action_category,
    actor_id: actor ? String(actor.ref) : null,
    actor,
    target_type: target?.type ?? null,
    target_id: target?.id === undefined ? null : String(target.id),
    target: target ? { ...target, ...(target.extra ? { extra: fields(target.extra) } : {}) } : null,
    context: draft.context ? clean(draft.context) : null,
    // Free text: credentials masked by their shape, as in an activity's text.
    note: draft.note === null ? null : redactText(clean(draft.note), sanitizer.redactor),
    source: Array.isArray(draft.source) ? fields(draft.source) : draft.source,
    details: Array.isArray(draft.details) ? fields(draft.details) : clean(draft.details),
    tags: draft.tags,
    entity_path: draft.entity_path,
    emitted_at: draft.emitted_at ?? new Date(),
    saved_at: null,
    is_active: draft.is_active,
  };
}

function actorOf(actor: ActorRef, clean: <T>(value: T) => T, fields: (list: CustomField[]) => CustomField[]): ActorRef {
  const copy = { ...actor };
  // A list of custom fields is already checked and typed; a free object is redacted like any free-form value.
  if (copy.extra) copy.extra = Array.isArray(copy.extra) ? fields(copy.extra) : clean(copy.extra);
  return copy;
}

/** Custom fields whose name is a secret's (`password`, `api_key`) keep their name, their value redacted as text. */
function redactedFields(list: CustomField[], redactor: KeyRedactor): CustomField[] {
  if (!list.some((field) => redactor.isSecretKey(field.name))) return list;
  return list.map((field) => (redactor.isSecretKey(field.name) ? { name: field.name, value: REDACTED, type: 'string' } : field));
}
