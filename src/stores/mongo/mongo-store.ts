import { z } from 'zod';
import type { ActionLogDocument, ActivityDocument, ModelLogDocument, RequestDocument } from '../../shared/document.js';
import { ActionLogConfigError, ActionLogStoreError } from '../../shared/errors.js';
import { parseOptions, requireObject } from '../../shared/parse-options.js';
import { unescapeKeys } from '../../build/sanitize/keys.js';
import { DEFAULT_PREFIX, TABLES, type TableKey, type TableSpec } from '../tables.js';
import type {
  MongoClientLike,
  MongoCollectionLike,
  MongoConnectionLike,
  MongoDbLike,
  MongoDocument,
  MongoWriteErrorLike,
} from './mongo-types.js';
import {
  type ActionQuery,
  type ActivityQuery,
  DEFAULT_QUERY_LIMIT,
  type ModelLogQuery,
  type RequestAppend,
  type RequestQuery,
  type Store,
  type StoreBatch,
  type StoreInfo,
} from '../store.js';

/** Collection names, by what they hold. */
export interface MongoCollectionNames {
  requests: string;
  actionLogs: string;
  modelLogs: string;
  activities: string;
}

interface MongoStoreCommon {
  /** Prefix of the collection names. Default `"actionlog_"`; `""` keeps the names of versions before 0.2 (`requests`...). */
  prefix?: string;
  /** Collection names, one by one, over the prefixed ones. */
  collections?: Partial<MongoCollectionNames>;
  /** Create the indexes when the logger starts (idempotent). Default true. */
  createIndexes?: boolean;
}

/**
 * Options of `new MongoStore(...)`: where the database is — a driver `Db`, a `MongoClient` (and `dbName`), or a
 * Mongoose connection (`mongoose.connection`, connected or not yet: the store waits for it to open).
 */
export type MongoStoreOptions = MongoStoreCommon &
  ({ db: MongoDbLike } | { client: MongoClientLike; dbName?: string } | { connection: MongoConnectionLike });

const hasMethod = (name: string) => (v: unknown) =>
  v !== null && typeof v === 'object' && typeof (v as Record<string, unknown>)[name] === 'function';
const collectionName = z
  .string()
  .min(1, 'must not be empty')
  .regex(/^[^$\0]+$/, 'must be a valid collection name');

const schema = z
  .strictObject({
    db: z.custom<MongoDbLike>(hasMethod('collection'), { error: 'must be a driver Db' }).optional(),
    client: z.custom<MongoClientLike>(hasMethod('db'), { error: 'must be a MongoClient' }).optional(),
    dbName: z.string().min(1).optional(),
    connection: z
      .custom<MongoConnectionLike>(hasMethod('once'), { error: 'must be a Mongoose connection (mongoose.connection)' })
      .optional(),
    prefix: z.string().max(40, 'must be at most 40 characters').default(DEFAULT_PREFIX),
    collections: z
      .strictObject({ requests: collectionName, actionLogs: collectionName, modelLogs: collectionName, activities: collectionName })
      .partial()
      .default({}),
    createIndexes: z.boolean().default(true),
  })
  .superRefine((o, ctx) => {
    const given = [o.db, o.client, o.connection].filter((v) => v !== undefined).length;
    if (given !== 1)
      ctx.addIssue({ code: 'custom', path: ['db'], message: 'give one of db, client (with an optional dbName) or connection' });
    if (o.dbName && !o.client) ctx.addIssue({ code: 'custom', path: ['dbName'], message: 'dbName goes with client' });
  });

/** `{ db: mongoose.connection.db }` before `connect()` passes `db: undefined`: said plainly, with the fix. */
function checkNotConnectedYet(options: object): void {
  if (Object.hasOwn(options, 'db') && (options as { db?: unknown }).db === undefined) {
    const message =
      'is undefined: mongoose.connection.db is only set once connected; pass { connection: mongoose.connection } instead, which waits for it';
    throw new ActionLogConfigError([{ path: 'db', message }], 'MongoStore options');
  }
}

/** Bookkeeping field of request documents: the late appends already applied (hidden on reads). */
const APPLIED = '_appends';
const HIDDEN = { [APPLIED]: 0 };
const DUPLICATE_KEY = 11000;
const INDEX_NOT_FOUND = 27;
const NAMESPACE_NOT_FOUND = 26;

type MongoIndex = { key: MongoDocument; name: string; unique?: boolean; sparse?: boolean; expireAfterSeconds?: number };

/** A collection's indexes, from the one list every store shares; with retention, a TTL index on `expires_at`. */
function mongoIndexes(table: TableSpec, retention: boolean): MongoIndex[] {
  const indexes = table.indexes
    .filter((index) => index.only !== 'sql')
    .map((index): MongoIndex => {
      const key: MongoDocument = {};
      for (const [field, order] of index.fields) key[table.mongoPaths?.[field] ?? field] = order;
      const out: MongoIndex = { key, name: index.mongoName ?? index.fields.map(([field]) => field).join('_') };
      if (index.unique) out.unique = true;
      if (index.sparse) out.sparse = true;
      return out;
    });
  if (retention) indexes.push({ key: { expires_at: 1 }, name: 'expires_at_ttl', expireAfterSeconds: 0 });
  return indexes;
}

/**
 * Stores documents in MongoDB through the official driver (never through Mongoose, so a Mongoose plugin can
 * never log the log). Batches go in with unordered bulk inserts; retries are idempotent; late events are
 * appended with `$push`, also before their document arrives.
 */
export class MongoStore implements Store {
  private readonly source: { db?: MongoDbLike; connection?: MongoConnectionLike };
  private readonly names: MongoCollectionNames;
  private readonly createIndexes: boolean;
  private readonly prefixGiven: boolean;

  constructor(options: MongoStoreOptions) {
    requireObject(options, '{ db }, { client, dbName } or { connection }', 'MongoStore options');
    checkNotConnectedYet(options);
    const o = parseOptions(schema, options, 'MongoStore options');
    this.source = o.client ? { db: o.client.db(o.dbName) } : { db: o.db, connection: o.connection };
    this.names = collectionNames(o.prefix, o.collections);
    this.createIndexes = o.createIndexes;
    this.prefixGiven = Object.hasOwn(options, 'prefix') || Object.hasOwn(options, 'collections');
  }

  /** The collection names in use. */
  get collections(): Readonly<MongoCollectionNames> {
    return this.names;
  }

  /** The database; on a Mongoose connection, once it is open. */
  private get db(): MongoDbLike {
    const db = this.source.db ?? this.source.connection?.db;
    if (!db) throw new ActionLogStoreError('MongoStore: the Mongoose connection is not open yet', 0);
    return db;
  }

  async init(info: StoreInfo): Promise<void> {
    await this.opened();
    if (!this.prefixGiven) await this.warnOfEarlierNames(info);
    if (!this.createIndexes) return;
    await this.dropLegacyIndexes();
    for (const key of Object.keys(TABLES) as TableKey[]) {
      await this.db.collection(this.names[key]).createIndexes(mongoIndexes(TABLES[key], info.retention));
    }
  }

  /** Waits for a Mongoose connection that is not open yet (the app connects after making the logger). */
  private async opened(): Promise<void> {
    const connection = this.source.connection;
    if (this.source.db || connection?.db) return;
    await new Promise<void>((resolve) => {
      connection?.once('open', () => {
        resolve();
      });
    });
  }

  /**
   * Versions before 0.2 named the collections without a prefix. An app upgrading without `prefix: ''` would start
   * writing (and reading) new, empty collections beside its trail: said once, at start.
   */
  private async warnOfEarlierNames(info: StoreInfo): Promise<void> {
    const existing = await this.db.listCollections({}, { nameOnly: true }).toArray();
    const names = new Set(existing.map((c) => String(c.name)));
    if (names.has(this.names.requests) || !names.has(TABLES.requests.name)) return;
    const indexes = await this.db.collection(TABLES.requests.name).listIndexes().toArray();
    if (!indexes.some((index) => index.name === 'uid_unique' || index.name === 'request_uuid_unique')) return;
    info.warn(
      new ActionLogConfigError(
        [
          {
            path: 'prefix',
            message: `collection "${TABLES.requests.name}" holds an earlier actionlog trail: pass prefix: '' to keep writing there`,
          },
        ],
        'MongoStore options',
      ),
    );
  }

  /** Before 0.2, `request_uuid` was unique: such an index would refuse two requests claiming one id. */
  private async dropLegacyIndexes(): Promise<void> {
    try {
      await this.db.collection(this.names.requests).dropIndex('request_uuid_unique');
    } catch (error) {
      const code = (error as { code?: number }).code;
      // No such index, or no collection yet: nothing to drop.
      if (code !== INDEX_NOT_FOUND && code !== NAMESPACE_NOT_FOUND) throw error;
    }
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async write(batch: StoreBatch): Promise<void> {
    await Promise.all([
      this.insertRequests(batch.requests),
      this.insertOnce(this.db.collection(this.names.actionLogs), batch.actionLogs),
      this.insertOnce(this.db.collection(this.names.modelLogs), batch.modelLogs),
      this.insertOnce(this.db.collection(this.names.activities), batch.activities),
    ]);
  }

  async append(appends: RequestAppend[]): Promise<void> {
    if (appends.length === 0) return;
    const requests = this.db.collection(this.names.requests);
    const ops = appends.map((a) => ({ updateOne: { filter: appendFilter(a), update: appendUpdate(a), upsert: true } }));
    try {
      await requests.bulkWrite(ops, { ordered: false });
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      if (!writeErrors || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
      // A duplicate on upsert: the document exists and either has this append already (the filter excluded it)
      // or was created by a concurrent upsert; applying it again without upsert settles which.
      for (const e of writeErrors) {
        const append = appends[e.index];
        if (append) await requests.updateOne(appendFilter(append), appendUpdate(append));
      }
    }
  }

  async findRequests(query: RequestQuery = {}): Promise<RequestDocument[]> {
    const filter: MongoDocument = {};
    for (const key of ['request_uuid', 'module', 'correlation_id'] as const) if (query[key] !== undefined) filter[key] = query[key];
    if (query.user_id !== undefined) {
      filter.$or = [{ 'details.request.user_details._id': query.user_id }, { 'details.run.user_details._id': query.user_id }];
    }
    if (query.model !== undefined || query.model_id !== undefined) {
      const elem: MongoDocument = {};
      if (query.model !== undefined) elem.model = query.model;
      if (query.model_id !== undefined) elem.model_id = query.model_id;
      filter['details.model_logs'] = { $elemMatch: elem };
    }
    addRange(filter, 'timestamp', query.from, query.to);
    return this.find<RequestDocument>(this.names.requests, filter, 'timestamp', query);
  }

  async findActions(query: ActionQuery = {}): Promise<ActionLogDocument[]> {
    const filter: MongoDocument = {};
    for (const key of ['request_uuid', 'actor_id', 'action_type', 'action_category', 'target_type', 'target_id'] as const) {
      if (query[key] !== undefined) filter[key] = query[key];
    }
    if (!query.include_inactive) filter.is_active = { $ne: false };
    addRange(filter, 'emitted_at', query.from, query.to);
    return this.find<ActionLogDocument>(this.names.actionLogs, filter, 'emitted_at', query);
  }

  async findModelLogs(query: ModelLogQuery = {}): Promise<ModelLogDocument[]> {
    const filter: MongoDocument = {};
    for (const key of ['request_uuid', 'model', 'model_id'] as const) if (query[key] !== undefined) filter[key] = query[key];
    addRange(filter, 'timestamp', query.from, query.to);
    return this.find<ModelLogDocument>(this.names.modelLogs, filter, 'timestamp', query);
  }

  async findActivities(query: ActivityQuery = {}): Promise<ActivityDocument[]> {
    const filter: MongoDocument = {};
    if (query.user_id !== undefined) filter['user._id'] = query.user_id;
    if (query.request_uuid !== undefined) filter.request_uuid = query.request_uuid;
    addRange(filter, 'activity_date', query.from, query.to);
    return this.find<ActivityDocument>(this.names.activities, filter, 'activity_date', query);
  }

  /** The connection belongs to the app: nothing to release here. */
  async close(): Promise<void> {}

  private async find<T>(
    collection: string,
    filter: MongoDocument,
    timeField: string,
    page: { limit?: number; offset?: number; order?: 'asc' | 'desc' },
  ): Promise<T[]> {
    const dir = page.order === 'asc' ? 1 : -1;
    const docs = await this.db
      .collection(collection)
      .find(filter, { projection: HIDDEN })
      .sort({ [timeField]: dir, _id: dir })
      .skip(page.offset ?? 0)
      .limit(page.limit ?? DEFAULT_QUERY_LIMIT)
      .toArray();
    return docs.map((d) => unescapeKeys(d) as T);
  }

  /** Inserts documents whose ids were stamped on the first attempt: a duplicate `_id` means already stored. */
  private async insertOnce(
    collection: MongoCollectionLike,
    docs: MongoDocument[] | ActionLogDocument[] | ModelLogDocument[] | ActivityDocument[],
  ): Promise<void> {
    if (docs.length === 0) return;
    try {
      // The driver sets `_id` on these very objects before sending; a retry sends the same ids.
      await collection.insertMany(docs, { ordered: false, forceServerObjectId: false });
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      if (!writeErrors || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
    }
  }

  private async insertRequests(docs: RequestDocument[]): Promise<void> {
    if (docs.length === 0) return;
    const requests = this.db.collection(this.names.requests);
    try {
      await requests.insertMany(docs, { ordered: false, forceServerObjectId: false });
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      if (!writeErrors) throw error;
      for (const e of writeErrors) {
        const doc = docs[e.index];
        if (doc && e.code === DUPLICATE_KEY) await this.settleDuplicate(requests, doc);
      }
      if (writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
    }
  }

  /**
   * A request document met one with its `uid` (the server's id, unique): late events stored first (the document
   * merges in front of them), or this very document, stored by an earlier attempt (done). Another request that
   * claims the same `request_uuid` never meets it: that id is not a key.
   */
  private async settleDuplicate(requests: MongoCollectionLike, doc: RequestDocument): Promise<void> {
    await requests.updateOne({ uid: doc.uid, timestamp: { $exists: false } }, mergeUpdate(doc));
  }
}

function appendFilter(a: RequestAppend): MongoDocument {
  return { uid: a.uid, [APPLIED]: { $ne: a.append_id } };
}

function appendUpdate(a: RequestAppend): MongoDocument {
  const update: MongoDocument = {
    $push: {
      'details.model_logs': { $each: a.model_logs },
      'details.actions': { $each: a.actions },
      [APPLIED]: a.append_id,
    },
    $setOnInsert: { request_uuid: a.request_uuid, module: a.module },
  };
  const inc = counts(a.model_logs_spilled, a.actions_spilled);
  if (inc) update.$inc = inc;
  return update;
}

/** Puts a request document in front of the late events stored before it. */
function mergeUpdate(doc: RequestDocument): MongoDocument {
  const { _id, request_uuid, details, ...top } = doc;
  const { model_logs, actions, model_logs_spilled, actions_spilled, ...rest } = details;
  const set: MongoDocument = Object.assign({}, top);
  for (const [key, value] of Object.entries(rest)) set[`details.${key}`] = value;
  const update: MongoDocument = {
    $set: set,
    $push: {
      'details.model_logs': { $each: model_logs, $position: 0 },
      'details.actions': { $each: actions, $position: 0 },
    },
  };
  const inc = counts(model_logs_spilled ?? 0, actions_spilled ?? 0);
  if (inc) update.$inc = inc;
  return update;
}

function counts(modelLogs: number, actions: number): MongoDocument | undefined {
  const inc: MongoDocument = {};
  if (modelLogs > 0) inc['details.model_logs_spilled'] = modelLogs;
  if (actions > 0) inc['details.actions_spilled'] = actions;
  return Object.keys(inc).length > 0 ? inc : undefined;
}

function addRange(filter: MongoDocument, field: string, from?: Date, to?: Date): void {
  if (from === undefined && to === undefined) return;
  const range: MongoDocument = {};
  if (from !== undefined) range.$gte = from;
  if (to !== undefined) range.$lte = to;
  filter[field] = range;
}

/** The write errors of a driver bulk write error, or undefined for any other error. */
function writeErrorsOf(error: unknown): MongoWriteErrorLike[] | undefined {
  const e = error as { writeErrors?: unknown; code?: number };
  if (Array.isArray(e.writeErrors) && e.writeErrors.length > 0) return e.writeErrors as MongoWriteErrorLike[];
  // A bulk write of one operation may surface as a plain server error.
  if (e.code === DUPLICATE_KEY && 'index' in (error as object)) return [error as MongoWriteErrorLike];
  return undefined;
}

function collectionNames(prefix: string, given: Partial<MongoCollectionNames>): MongoCollectionNames {
  const keys = Object.keys(TABLES) as TableKey[];
  return Object.fromEntries(keys.map((key) => [key, given[key] ?? `${prefix}${TABLES[key].name}`])) as unknown as MongoCollectionNames;
}
