import type { ActionDraft } from '../capture/action/draft.js';
import { type ActionEntry, type ActorRef, isObjectId, type UserRef, userIdText } from '../shared/document.js';
import type { Sanitizer } from './sanitize/sanitizer.js';

/**
 * The stored entry of a parsed action: flat columns for the indexes beside the rich objects, free-form parts copied
 * and redacted now (the caller may change its objects after `record()` returns), the actor defaulting to `user`.
 */
export function actionEntry(draft: ActionDraft, user: UserRef | null | undefined, sanitizer: Sanitizer): ActionEntry {
  const clean = <T>(value: T): T => sanitizer.clean(value) as T;
  const actor = draft.actor
    ? actorOf(draft.actor, clean)
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
    target: target ? { ...target } : null,
    context: draft.context ? clean(draft.context) : null,
    note: draft.note === null ? null : clean(draft.note),
    source: draft.source,
    details: Array.isArray(draft.details) ? draft.details : clean(draft.details),
    tags: draft.tags,
    entity_path: draft.entity_path,
    emitted_at: draft.emitted_at ?? new Date(),
    saved_at: null,
    is_active: draft.is_active,
  };
}

function actorOf(actor: ActorRef, clean: <T>(value: T) => T): ActorRef {
  const copy = { ...actor };
  // A list of custom fields is already checked and typed; a free object is redacted like any free-form value.
  if (copy.extra && !Array.isArray(copy.extra)) copy.extra = clean(copy.extra);
  return copy;
}
