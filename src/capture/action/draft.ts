import type { ActionEntry, ActorRef, TargetRef } from '../../shared/document.js';

/**
 * An action as given, normalized to the stored names whatever shape it came in. Free-form parts (context, a free
 * `details`, an `extra` object) are not yet copied and redacted, and a missing actor not yet taken from the scope:
 * the logger does both.
 */
export interface ActionDraft {
  action_type: string;
  action_category: string | null;
  actor: ActorRef | null;
  target: TargetRef | null;
  context: Record<string, unknown> | null;
  note: string | null;
  source: ActionEntry['source'];
  details: ActionEntry['details'];
  tags: ActionEntry['tags'];
  entity_path: ActionEntry['entity_path'];
  emitted_at: Date | null;
  is_active: boolean;
}

/** A draft with nothing but its action type: each shape fills in what it has. */
export function emptyDraft(actionType: string): ActionDraft {
  return {
    action_type: actionType,
    action_category: null,
    actor: null,
    target: null,
    context: null,
    note: null,
    source: null,
    details: [],
    tags: [],
    entity_path: null,
    emitted_at: null,
    is_active: true,
  };
}

/** An actor known only by its id (`actor: 'user-42'`, `actor_id`, `actorUserId`): a user, named by its id. */
export const userActor = (ref: string | number): ActorRef => ({ ref, type: 'user', name: String(ref) });
