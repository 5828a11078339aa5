import { type ActionLogDocument, isObjectId } from '../../shared/document.js';
import { type LatestCandidate, latestOfBatch } from '../latest.js';
import type { MongoCollectionLike, MongoDocument } from './mongo-types.js';
import { DUPLICATE_KEY, writeErrorsOf } from './mongo-writes.js';

/** How often a pair's upsert starts over when its document vanished (TTL) between a duplicate key and the retry. */
const ATTEMPTS = 5;

/**
 * Upserts each pair's latest action of a batch into the latest actions' collection. The filter matches the pair's
 * document only while it holds an earlier action (see `isLater`), so a later one already there is left alone; the
 * upsert then meets the unique (actor, type) index and fails with a duplicate key, as it does when another process
 * inserted the pair first: `settle` decides those. The actions are stored first: their `_id`s are set.
 */
export async function keepLatest(latest: MongoCollectionLike, docs: readonly ActionLogDocument[]): Promise<void> {
  const candidates = latestOfBatch(docs, (doc) => doc.uid ?? idText(doc._id));
  if (candidates.length === 0) return;
  const ops = candidates.map((c) => ({ updateOne: { filter: heldEarlier(c), update: replaceWith(c), upsert: true } }));
  try {
    await latest.bulkWrite(ops, { ordered: false });
  } catch (error) {
    const writeErrors = writeErrorsOf(error);
    if (!writeErrors || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
    for (const e of writeErrors) {
      const candidate = candidates[e.index];
      if (candidate) await settle(latest, candidate);
    }
  }
}

/**
 * After a duplicate key the pair's document exists: it takes this action if it holds an earlier one (a concurrent
 * insert of an earlier action), else it already holds a later or the same one. Gone again (expired meanwhile), the
 * upsert is tried anew.
 */
async function settle(latest: MongoCollectionLike, c: LatestCandidate): Promise<void> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if ((await latest.updateOne(heldEarlier(c), replaceWith(c))).matchedCount > 0) return;
    if (await latest.findOne({ actor_id: c.actor_id, action_type: c.action_type }, { projection: { _id: 1 } })) return;
    try {
      await latest.updateOne(heldEarlier(c), replaceWith(c), { upsert: true });
      return;
    } catch (error) {
      if ((error as { code?: number }).code !== DUPLICATE_KEY) throw error;
    }
  }
}

/** The pair's document, while it holds an earlier action than `c`. */
function heldEarlier(c: LatestCandidate): MongoDocument {
  return {
    actor_id: c.actor_id,
    action_type: c.action_type,
    $or: [{ emitted_at: { $lt: c.emitted_at } }, { emitted_at: c.emitted_at, action_uid: { $lt: c.action_uid } }],
  };
}

function replaceWith(c: LatestCandidate): MongoDocument {
  return { $set: { emitted_at: c.emitted_at, action_uid: c.action_uid, action_id: c.doc._id, expires_at: c.expires_at } };
}

/** An action's `_id` as text: an ObjectId's hex (the same order as the ObjectIds), anything else as it prints. */
const idText = (id: unknown): string => (isObjectId(id) ? id.toHexString() : String(id));
