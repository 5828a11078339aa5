import type { ActionLogDocument } from '../shared/document.js';

/** What a latest-action row holds of its action: the order between two actions of one (actor, action type). */
export interface LatestCandidate {
  actor_id: string;
  action_type: string;
  emitted_at: Date;
  /** The store's id of the action, as text: breaks a tie of `emitted_at` the same way in every process. */
  action_uid: string;
  expires_at: Date | null;
  /** The action itself, as the store holds it. */
  doc: ActionLogDocument;
}

/** Whether `a` is the later action: by `emitted_at`, then by `action_uid` (what every store's upsert condition says). */
export function isLater(
  a: Pick<LatestCandidate, 'emitted_at' | 'action_uid'>,
  b: Pick<LatestCandidate, 'emitted_at' | 'action_uid'>,
): boolean {
  const d = a.emitted_at.getTime() - b.emitted_at.getTime();
  return d > 0 || (d === 0 && a.action_uid > b.action_uid);
}

/**
 * The latest action of each (actor, action type) of a batch, in (actor, action type) order: one upsert per pair
 * (PostgreSQL refuses one statement touching a row twice), taken in the same order by every writer (no deadlock).
 * Actions without an actor have no pair.
 */
export function latestOfBatch(docs: readonly ActionLogDocument[], uidOf: (doc: ActionLogDocument) => string): LatestCandidate[] {
  const byPair = new Map<string, LatestCandidate>();
  for (const doc of docs) {
    if (doc.actor_id === null) continue;
    const candidate: LatestCandidate = {
      actor_id: doc.actor_id,
      action_type: doc.action_type,
      emitted_at: doc.emitted_at,
      action_uid: uidOf(doc),
      expires_at: doc.expires_at ?? null,
      doc,
    };
    const key = pairKey(doc.actor_id, doc.action_type);
    const held = byPair.get(key);
    if (!held || isLater(candidate, held)) byPair.set(key, candidate);
  }
  return [...byPair.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, candidate]) => candidate);
}

/** One key per (actor, action type). */
export const pairKey = (actorId: string, actionType: string): string => `${actorId}\u0000${actionType}`;
