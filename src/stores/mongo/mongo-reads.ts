import { unescapeKeys } from '../../build/sanitize/keys.js';
import { ActionLogStoreError } from '../../shared/errors.js';
import type { EntryKind, EntryOf, FacetCount, FacetQuery, StoredEntry, StoreFilter, StoreQuery } from '../store.js';
import type { TableKey } from '../tables.js';
import { facetCounts, facetPipeline } from './mongo-facets.js';
import { allOf, filterConditions, TIME_FIELD } from './mongo-filter.js';
import { HISTORY_INDEX, SEQ } from './mongo-indexes.js';
import { IdCodec, pastCondition, seqOf, timeSort } from './mongo-keyset.js';
import type { WriteSequence } from './mongo-sequence.js';
import type { MongoCollectionLike, MongoDocument } from './mongo-types.js';
import { APPLIED } from './mongo-writes.js';

/** The collection each kind is read from. */
export const COLLECTION_OF: Readonly<Record<EntryKind, TableKey>> = {
  requests: 'requests',
  actions: 'actionLogs',
  changes: 'modelLogs',
  activities: 'activities',
};

const HIDDEN = { [APPLIED]: 0 };
const INDEX_NOT_FOUND = 27;
const BAD_VALUE = 2;

/** Queries, counts and facets of MongoStore. */
export class MongoReads {
  private readonly ids = new IdCodec();

  constructor(
    private readonly collection: (kind: EntryKind) => MongoCollectionLike,
    private readonly sequence: WriteSequence,
  ) {}

  async query<K extends EntryKind>(query: StoreQuery<K>): Promise<Array<StoredEntry<K>>> {
    if (query.limit < 1) return [];
    const collection = this.collection(query.kind);
    const conditions = await this.conditions(query.kind, query.filter);
    let sort: MongoDocument;
    if (query.by === 'stored') {
      conditions.push(await this.storedRange(query));
      sort = { [SEQ]: query.order === 'asc' ? 1 : -1 };
    } else {
      const timeField = TIME_FIELD[query.kind];
      if (query.after) {
        const id = await this.ids.value(query.after.id, collection);
        if (id === undefined) return [];
        conditions.push(pastCondition(timeField, query.order, query.after.time, id));
      }
      sort = timeSort(timeField, query.order);
    }
    const hint = query.kind === 'changes' && query.by === 'time' && isOneRecord(query.filter) ? HISTORY_INDEX.key : undefined;
    const docs = await readWithIndexes(query.filter, () =>
      collection
        .find(allOf(conditions), { projection: HIDDEN, ...(hint ? { hint } : {}) })
        .sort(sort)
        .limit(query.limit)
        .toArray(),
    );
    return docs.map((doc) => this.stored<K>(query.kind, doc));
  }

  /**
   * Sequences past `after` in the query's order, up to the horizon: ascending, what `tail` reads next; descending,
   * the newest visible first (where now is), never one above the horizon that a write in flight could precede.
   */
  private async storedRange(query: StoreQuery): Promise<MongoDocument> {
    const horizon = await this.sequence.horizon();
    const after = query.after ? seqOf(query.after) : undefined;
    if (query.order === 'asc') return { [SEQ]: { $gt: after ?? 0, $lte: horizon } };
    return { [SEQ]: { $gt: 0, $lte: after === undefined ? horizon : Math.min(horizon, after - 1) } };
  }

  async count(kind: EntryKind, filter: StoreFilter): Promise<number> {
    const match = allOf(await this.conditions(kind, filter));
    return readWithIndexes(filter, () => this.collection(kind).countDocuments(match));
  }

  async facets(query: FacetQuery): Promise<FacetCount[]> {
    if (query.limit < 1) return [];
    const match = allOf(await this.conditions(query.kind, query.filter));
    const pipeline = facetPipeline(query.kind, query.field, match, query.limit, query.after);
    return facetCounts(await readWithIndexes(query.filter, () => this.collection(query.kind).aggregate(pipeline).toArray()));
  }

  /** The entry of a kind with this `_id`, unless expired (or, an action, inactive). */
  async byId<K extends EntryKind>(kind: K, id: unknown): Promise<StoredEntry<K> | null> {
    const conditions = filterConditions(kind, {}, new Date());
    const doc = await this.collection(kind).findOne(allOf([...conditions, { _id: id }]), { projection: HIDDEN });
    return doc ? this.stored(kind, doc) : null;
  }

  /** The conditions of a filter; a 24-hex `actor_id` also as the ObjectId (user references keep their id's type). */
  private async conditions(kind: EntryKind, filter: StoreFilter): Promise<MongoDocument[]> {
    const actor = filter.actor_id;
    const objectId =
      actor !== undefined && /^[0-9a-f]{24}$/i.test(actor) ? await this.ids.value(actor.toLowerCase(), this.collection(kind)) : undefined;
    return filterConditions(kind, filter, new Date(), objectId === undefined ? undefined : () => objectId);
  }

  /** An entry as reads return it: keys unescaped, the sequence moved from the document to its position. */
  private stored<K extends EntryKind>(kind: K, doc: MongoDocument): StoredEntry<K> {
    const { [SEQ]: seq, ...entry } = doc;
    return {
      entry: unescapeKeys(entry) as unknown as EntryOf[K],
      position: { time: doc[TIME_FIELD[kind]] as Date, id: this.ids.text(doc._id), seq: String(typeof seq === 'number' ? seq : 0) },
    };
  }
}

/** The changes of one record: what `history` and `stateAt` read. */
const isOneRecord = (filter: StoreFilter) => filter.model !== undefined && filter.model_id !== undefined && filter.model_id !== null;

/**
 * Reads with `q` need the text index, and a record's history its index, both created when the store starts: said
 * so when one is missing.
 */
async function readWithIndexes<T>(filter: StoreFilter, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    const { code, message } = error as { code?: number; message?: string };
    const missing =
      filter.q !== undefined && code === INDEX_NOT_FOUND
        ? 'q searches the text index of the action_logs collection'
        : code === BAD_VALUE && message?.includes('hint provided does not correspond to an existing index')
          ? `a record's history reads the index { ${Object.keys(HISTORY_INDEX.key).join(', ')} } of the model_logs collection`
          : undefined;
    if (!missing) throw error;
    throw new ActionLogStoreError(`MongoStore: ${missing}, which the store creates when it starts (createIndexes: false skips it)`, 0, {
      cause: error,
    });
  }
}
