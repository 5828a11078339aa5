import { TABLES, type TableKey, type TableSpec } from '../tables.js';
import type { MongoCollectionNames } from './mongo-options.js';
import type { MongoDbLike, MongoDocument } from './mongo-types.js';

export type MongoIndex = {
  key: MongoDocument;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  default_language?: string;
};

/** Where every entry carries the sequence of the write that stored it (see `WriteSequence`), for `tail`. */
export const SEQ = '_seq';

/** The indexes of the store's own machinery, beside the table list's. */
const STORE_INDEXES: Partial<Record<TableKey, MongoIndex[]>> = {
  // `q`: words of the note and names, case and accents aside; language `none`: no stemming, no stop words.
  actionLogs: [{ key: { note: 'text', 'target.name': 'text', 'actor.name': 'text' }, name: 'note_names_text', default_language: 'none' }],
};

const INDEX_NOT_FOUND = 27;
const NAMESPACE_NOT_FOUND = 26;

/** A collection's indexes: the shared table list's, the store's own, stored order, and TTL with retention. */
export function mongoIndexes(key: TableKey, retention: boolean): MongoIndex[] {
  const table: TableSpec = TABLES[key];
  const indexes = table.indexes
    .filter((index) => index.only !== 'sql')
    .map((index): MongoIndex => {
      const fields: MongoDocument = {};
      for (const [field, order] of index.fields) fields[table.mongoPaths?.[field] ?? field] = order;
      if (index.mongoKeyset) fields._id = index.fields.at(-1)?.[1] ?? 1;
      const out: MongoIndex = { key: fields, name: index.mongoName ?? index.fields.map(([field]) => field).join('_') };
      if (index.unique) out.unique = true;
      if (index.sparse) out.sparse = true;
      return out;
    });
  indexes.push(...(STORE_INDEXES[key] ?? []));
  // Entries written before stored order existed have no sequence: tail never returns them.
  indexes.push({ key: { [SEQ]: 1 }, name: SEQ, sparse: true });
  if (retention) indexes.push({ key: { expires_at: 1 }, name: 'expires_at_ttl', expireAfterSeconds: 0 });
  return indexes;
}

/**
 * The index of one record's history (model logs by model and id, in time order), which reads of a record's changes
 * by time name as their hint: MongoDB would otherwise race it against the time index when a page starts past a
 * position, and may cache the loser for the query's shape.
 */
export const HISTORY_INDEX: MongoIndex = historyIndex();

function historyIndex(): MongoIndex {
  const index = mongoIndexes('modelLogs', false).find((i) => i.name === 'model_model_id_timestamp_id');
  if (!index) throw new Error('the table list lost the history index of model_logs');
  return index;
}

/**
 * Creates every collection's indexes, after dropping those they replace: MongoDB refuses a changed key under an
 * existing name, so a changed index takes a new name and the old one goes (an index already gone is fine: another
 * process may have dropped it first).
 */
export async function createIndexes(db: MongoDbLike, names: MongoCollectionNames, retention: boolean): Promise<void> {
  for (const key of Object.keys(TABLES) as TableKey[]) {
    const collection = db.collection(names[key]);
    const replaced = new Set(TABLES[key].indexes.filter((index) => index.only !== 'sql').flatMap((index) => index.mongoReplaces ?? []));
    for (const name of await indexNames(db, names[key])) {
      if (!replaced.has(name)) continue;
      try {
        await collection.dropIndex(name);
      } catch (error) {
        if ((error as { code?: number }).code !== INDEX_NOT_FOUND) throw error;
      }
    }
    await collection.createIndexes(mongoIndexes(key, retention));
  }
}

async function indexNames(db: MongoDbLike, collection: string): Promise<string[]> {
  try {
    return (await db.collection(collection).listIndexes().toArray()).map((index) => String(index.name));
  } catch (error) {
    if ((error as { code?: number }).code === NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}
