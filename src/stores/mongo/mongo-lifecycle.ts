import type { EntryKind, PurgeQuery } from '../store.js';
import { TIME_FIELD } from './mongo-filter.js';
import { IdCodec } from './mongo-keyset.js';
import type { MongoCollectionLike, MongoDocument } from './mongo-types.js';

const HEX_ID = /^[0-9a-f]{24}$/;

/** What happens to stored entries after they are written: purged in batches, deactivated. */
export class MongoLifecycle {
  private readonly ids = new IdCodec();

  constructor(private readonly collection: (kind: EntryKind) => MongoCollectionLike) {}

  /**
   * One batch: the `_id`s of at most `limit` entries to purge, then those deleted by `_id` (a rerun finds what a
   * killed one left). The TTL index, when there is one, deletes expired documents too, in its own time.
   */
  async purge(query: PurgeQuery): Promise<number> {
    if (query.limit < 1) return 0;
    const collection = this.collection(query.kind);
    const expired: MongoDocument = { expires_at: { $lte: query.expiredAt } };
    const older: MongoDocument[] = query.before ? [{ [TIME_FIELD[query.kind]]: { $lt: query.before } }] : [];
    // A placeholder of late events (no time of its own) is older than `before` when its request expired before it.
    if (query.before && query.kind === 'requests') older.push({ timestamp: { $exists: false }, expires_at: { $lt: query.before } });
    const condition = older.length > 0 ? { $or: [expired, ...older] } : expired;
    const found = await collection
      .find(condition, { projection: { _id: 1 } })
      .limit(query.limit)
      .toArray();
    if (found.length === 0) return 0;
    const result = await collection.deleteMany({ _id: { $in: found.map((doc) => doc._id) } });
    return result.deletedCount;
  }

  /** Deletes the entries of these position ids (see `IdCodec`). */
  async remove(kind: EntryKind, ids: string[]): Promise<number> {
    const collection = this.collection(kind);
    const values: unknown[] = [];
    for (const id of ids) {
      const value = await this.ids.value(id, collection).catch(() => undefined);
      if (value !== undefined) values.push(value);
    }
    if (values.length === 0) return 0;
    return (await collection.deleteMany({ _id: { $in: values } })).deletedCount;
  }

  /** The action of this `_id` (an ObjectId's hex, or a string `_id` as it is) marked inactive. */
  async deactivate(id: string): Promise<boolean> {
    const collection = this.collection('actions');
    const candidates: unknown[] = [id];
    if (HEX_ID.test(id)) {
      const objectId = await this.ids.value(id, collection);
      if (objectId !== undefined) candidates.push(objectId);
    }
    const result = await collection.updateOne({ _id: { $in: candidates } }, { $set: { is_active: false } });
    return result.matchedCount > 0;
  }
}
