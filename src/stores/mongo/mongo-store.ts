import { z } from 'zod';
import type { ActionLogDocument, ActivityDocument, ModelLogDocument, RequestDocument } from '../../shared/document.js';
import { parseOptions, requireObject } from '../../shared/parse-options.js';
import { unescapeKeys } from '../../build/sanitize/keys.js';
import { TABLES, type TableKey, type TableSpec } from '../tables.js';
import type { MongoClientLike, MongoCollectionLike, MongoDbLike, MongoDocument, MongoWriteErrorLike } from './mongo-types.js';
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

/** Options of `new MongoStore(...)`. */
export interface MongoStoreOptions {
  /** A driver `Db`; a Mongoose app passes `mongoose.connection.db`. */
  db?: MongoDbLike;
  /** Or a connected `MongoClient` and a database name. */
  client?: MongoClientLike;
  dbName?: string;
  /** Collection names. */
  collections?: { requests?: string; actionLogs?: string; modelLogs?: string; activities?: string };
  /** Create the indexes when the logger starts (idempotent). Default true. */
  createIndexes?: boolean;
}

const hasMethod = (name: string) => (v: unknown) =>
  v !== null && typeof v === 'object' && typeof (v as Record<string, unknown>)[name] === 'function';
const collectionName = z
  .string()
  .min(1)
  .regex(/^[^$\0]+$/, 'must be a valid collection name');

const schema = z
  .strictObject({
    db: z.custom<MongoDbLike>(hasMethod('collection'), { error: 'must be a driver Db (mongoose.connection.db)' }).optional(),
    client: z.custom<MongoClientLike>(hasMethod('db'), { error: 'must be a connected MongoClient' }).optional(),
    dbName: z.string().min(1).optional(),
    collections: z
      .strictObject({
        requests: collectionName.default(TABLES.requests.name),
        actionLogs: collectionName.default(TABLES.actionLogs.name),
        modelLogs: collectionName.default(TABLES.modelLogs.name),
        activities: collectionName.default(TABLES.activities.name),
      })
      .prefault({}),
    createIndexes: z.boolean().default(true),
  })
  .superRefine((o, ctx) => {
    if (!o.db === !o.client) ctx.addIssue({ code: 'custom', path: ['db'], message: 'give either db, or client (with an optional dbName)' });
    if (o.dbName && !o.client) ctx.addIssue({ code: 'custom', path: ['dbName'], message: 'dbName goes with client' });
  });

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
  private readonly db: MongoDbLike;
  private readonly names: Required<NonNullable<MongoStoreOptions['collections']>>;
  private readonly createIndexes: boolean;

  constructor(options: MongoStoreOptions) {
    requireObject(options, '{ db } or { client, dbName }', 'MongoStore options');
    const o = parseOptions(schema, options, 'MongoStore options');
    // The schema requires one of the two.
    this.db = o.db ?? (o.client as MongoClientLike).db(o.dbName);
    this.names = o.collections;
    this.createIndexes = o.createIndexes;
  }

  /** The collection names in use. */
  get collections(): Readonly<Required<NonNullable<MongoStoreOptions['collections']>>> {
    return this.names;
  }

  async init(info: StoreInfo): Promise<void> {
    if (!this.createIndexes) return;
    await this.dropLegacyIndexes();
    for (const key of Object.keys(TABLES) as TableKey[]) {
      await this.db.collection(this.names[key]).createIndexes(mongoIndexes(TABLES[key], info.retention));
    }
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
