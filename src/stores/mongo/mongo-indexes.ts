import { type IndexSpec, TABLES, type TableKey, type TableSpec } from '../tables.js';
import { TIME_FIELD } from './mongo-filter.js';
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

/** The field each collection's entries are ordered by. */
const TIME_FIELD_OF: Readonly<Record<TableKey, string>> = {
  requests: TIME_FIELD.requests,
  actionLogs: TIME_FIELD.actions,
  modelLogs: TIME_FIELD.changes,
  activities: TIME_FIELD.activities,
  latestActions: TIME_FIELD.actions,
  checkpoints: 'at',
};

/** Indexes of earlier versions with no successor: before 0.2, `request_uuid` was unique (two requests may claim one). */
const RETIRED: Partial<Record<TableKey, string[]>> = { requests: ['request_uuid_unique'] };

/** An index of the table list as MongoDB takes it: its fields at their paths, its MongoDB name. */
function fromTable(table: TableSpec, index: IndexSpec): MongoIndex {
  const key: MongoDocument = {};
  for (const [field, order] of index.fields) key[table.mongoPaths?.[field] ?? field] = order;
  const out: MongoIndex = { key, name: index.mongoName ?? index.fields.map(([field]) => field).join('_') };
  if (index.unique) out.unique = true;
  if (index.sparse) out.sparse = true;
  return out;
}

/**
 * The table list's indexes for MongoDB: one ending in the collection's time field ends in `_id` too (in the same
 * direction, named `<name>_id`), so that pages by (time, `_id`) read one index range in order; one whose key begins
 * another's is left out (that one answers its queries).
 */
function tableIndexes(key: TableKey): MongoIndex[] {
  const table = TABLES[key];
  const indexes = table.indexes
    .filter((index) => index.only !== 'sql')
    .map((spec) => {
      const index = fromTable(table, spec);
      const last = Object.keys(index.key).at(-1);
      if (last !== TIME_FIELD_OF[key]) return index;
      return { ...index, key: { ...index.key, _id: index.key[last] }, name: `${index.name}_id` };
    });
  return indexes.filter((index) => !indexes.some((other) => other !== index && extends_(other, index)));
}

/** Whether `longer`'s key begins with all of `shorter`'s, in the same directions (a plain `shorter` is then redundant). */
function extends_(longer: MongoIndex, shorter: MongoIndex): boolean {
  if (shorter.unique || shorter.sparse) return false;
  const long = Object.entries(longer.key);
  const short = Object.entries(shorter.key);
  return short.length < long.length && short.every(([field, dir], i) => long[i]?.[0] === field && long[i][1] === dir);
}

/** A collection's indexes: the table list's, the store's own, stored order, and TTL with retention. */
export function mongoIndexes(key: TableKey, retention: boolean): MongoIndex[] {
  const indexes = tableIndexes(key);
  indexes.push(...(STORE_INDEXES[key] ?? []));
  // Entries written before stored order existed have no sequence: tail never returns them.
  if (key !== 'latestActions') indexes.push({ key: { [SEQ]: 1 }, name: SEQ, sparse: true });
  if (retention) indexes.push({ key: { expires_at: 1 }, name: 'expires_at_ttl', expireAfterSeconds: 0 });
  return indexes;
}

/**
 * Names of indexes earlier versions made that are gone now: the table list's under their plain names (extended with
 * `_id` or left out as redundant since), and retired ones.
 */
function replacedNames(key: TableKey): Set<string> {
  const table = TABLES[key];
  const current = new Set(mongoIndexes(key, true).map((index) => index.name));
  const plain = table.indexes.filter((index) => index.only !== 'sql').map((index) => fromTable(table, index).name);
  return new Set([...plain, ...(RETIRED[key] ?? [])].filter((name) => !current.has(name)));
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
 * Creates every collection's indexes (the latest actions' with `latestActions` only), after dropping those they replace: MongoDB refuses a changed key under an
 * existing name, so a changed index takes a new name and the old one goes (an index already gone is fine: another
 * process may have dropped it first).
 */
export async function createIndexes(
  db: MongoDbLike,
  names: MongoCollectionNames,
  retention: boolean,
  latestActions = false,
): Promise<void> {
  for (const key of Object.keys(TABLES) as TableKey[]) {
    // The latest actions' collection exists only for loggers that keep it.
    if (key === 'latestActions' && !latestActions) continue;
    const collection = db.collection(names[key]);
    const replaced = replacedNames(key);
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
