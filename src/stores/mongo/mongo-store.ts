import type { Readable } from 'node:stream';
import { isObjectId, type StoredAttachment } from '../../shared/document.js';
import { ActionLogConfigError, ActionLogStoreError } from '../../shared/errors.js';
import { knowsDriverObjectId, learnObjectIdClass } from '../../shared/object-id.js';
import { parseOptions, requireObject } from '../../shared/parse-options.js';
import { TABLES } from '../tables.js';
import type {
  CheckpointDocument,
  CheckpointQuery,
  StoredCheckpoint,
  EntryKind,
  EntryPosition,
  FacetCount,
  FacetQuery,
  PurgeQuery,
  RequestAppend,
  Store,
  StoreBatch,
  StoredEntry,
  StoreFilter,
  StoreInfo,
  StoreQuery,
} from '../store.js';
import { MongoAttachments } from './mongo-attachments.js';
import { createIndexes, SEQ } from './mongo-indexes.js';
import {
  checkNotConnectedYet,
  collectionNames,
  type MongoCollectionNames,
  mongoStoreSchema,
  type MongoStoreOptions,
} from './mongo-options.js';
import { MongoLifecycle } from './mongo-lifecycle.js';
import { COLLECTION_OF, MongoReads } from './mongo-reads.js';
import { WriteSequence } from './mongo-sequence.js';
import type { MongoChangeStreamLike, MongoConnectionLike, MongoDbLike } from './mongo-types.js';
import { WriteWatch } from './mongo-watch.js';
import { keepLatest } from './mongo-latest.js';
import { learnObjectIdClassFrom, positionProblem } from './mongo-keyset.js';
import { appendEvents, insertCheckpoint, insertOnce, insertRequests } from './mongo-writes.js';

export type { MongoCollectionNames, MongoStoreOptions };

/**
 * Stores documents in MongoDB through the official driver (never through Mongoose, so a Mongoose plugin can
 * never log the log). Batches go in with unordered bulk inserts; retries are idempotent; late events are
 * appended with `$push`, also before their document arrives. Each write numbers what it stores from a counter
 * (`<prefix>counters`), the order `tail` follows; see `tailSettleMs` for how far it trusts other processes.
 */
export class MongoStore implements Store {
  private readonly source: { db?: MongoDbLike; connection?: MongoConnectionLike };
  private readonly names: MongoCollectionNames;
  private readonly createIndexes: boolean;
  private readonly prefixGiven: boolean;
  private readonly sequence: WriteSequence;
  private readonly reads: MongoReads;
  private readonly lifecycle: MongoLifecycle;
  private readonly watcher: WriteWatch;
  /** Option `latestActions` of the logger, from `init`. */
  private latestOn = false;
  private readonly attachments: MongoAttachments;

  constructor(options: MongoStoreOptions) {
    requireObject(options, '{ db }, { client, dbName } or { connection }', 'MongoStore options');
    checkNotConnectedYet(options);
    const o = parseOptions(mongoStoreSchema, options, 'MongoStore options');
    this.source = o.client ? { db: o.client.db(o.dbName) } : { db: o.db, connection: o.connection };
    this.names = collectionNames(o.prefix, o.collections);
    this.createIndexes = o.createIndexes;
    this.prefixGiven = Object.hasOwn(options, 'prefix') || Object.hasOwn(options, 'collections');
    this.sequence = new WriteSequence(() => this.db.collection(this.names.counters), o.tailSettleMs);
    this.reads = new MongoReads((kind) => this.db.collection(this.names[COLLECTION_OF[kind]]), this.sequence);
    this.lifecycle = new MongoLifecycle((kind) => this.db.collection(this.names[COLLECTION_OF[kind]]));
    this.attachments = new MongoAttachments(() => ({
      files: this.db.collection(`${this.names.attachments}.files`),
      chunks: this.db.collection(`${this.names.attachments}.chunks`),
    }));
    this.watcher = new WriteWatch(
      () => this.changes(),
      o.tailSettleMs,
      (seq) => {
        this.sequence.observe(seq);
      },
    );
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
    // Sticky: a logger without the option sharing this store does not stop it for the one that has it.
    this.latestOn ||= info.latestActions === true;
    await this.opened();
    if (!this.prefixGiven) await this.warnOfEarlierNames(info);
    if (this.createIndexes) {
      await createIndexes(this.db, this.names, info.retention, this.latestOn);
      await this.attachments.createIndexes();
    }
    // Before the first write: ObjectIds read back from a spool are written as the driver's (`RevivedObjectId`).
    await learnObjectIdClassFrom(this.db.collection(this.names.requests));
    if (!knowsDriverObjectId()) await this.learnObjectIdClassFromServer();
  }

  /**
   * An empty trail has no ObjectId to learn from: the server's handshake answers with one
   * (`topologyVersion.processId`, on every MongoDB since 4.4; `hello` since 4.4.2, `isMaster` before it). A server
   * that has none leaves revived ObjectIds to be written as their hex.
   */
  private async learnObjectIdClassFromServer(): Promise<void> {
    for (const command of [{ hello: 1 }, { isMaster: 1 }]) {
      const answer = await this.db.command(command).catch(() => undefined);
      const processId = (answer?.topologyVersion as { processId?: unknown } | undefined)?.processId;
      if (processId === undefined) continue;
      learnObjectIdClass(processId);
      return;
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

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  /**
   * Each attempt numbers its documents with a range of the counter (a retry takes a new one; a document an earlier
   * attempt stored keeps its number), and holds stored-order readers back below that range until it is over.
   */
  async write(batch: StoreBatch): Promise<void> {
    const docs = [...batch.requests, ...batch.actionLogs, ...batch.modelLogs, ...batch.activities];
    if (docs.length === 0) return;
    const range = await this.sequence.reserve(docs.length);
    let stored = false;
    try {
      docs.forEach((doc, i) => {
        (doc as { [SEQ]?: number })[SEQ] = range.first + i;
        // Another store's id (a SqlStore's row number, in an archive): not ours to page by, and another source's row
        // of the same number would take it for a duplicate. The uid (unique) keeps the write idempotent; an entry of a
        // version before uids keeps the id it came with, which does.
        if ('_id' in doc && !isObjectId(doc._id) && typeof (doc as { uid?: unknown }).uid === 'string') delete doc._id;
      });
      await Promise.all([
        insertRequests(this.db.collection(this.names.requests), batch.requests),
        insertOnce(this.db.collection(this.names.actionLogs), batch.actionLogs),
        insertOnce(this.db.collection(this.names.modelLogs), batch.modelLogs),
        insertOnce(this.db.collection(this.names.activities), batch.activities),
      ]);
      learnObjectIdClass((docs[0] as { _id?: unknown })._id);
      // After the actions: the latest rows point at their `_id`s. Not numbered: no entry of its own for `tail`.
      if (this.latestOn) await keepLatest(this.db.collection(this.names.latestActions), batch.actionLogs);
      stored = true;
    } finally {
      this.sequence.release(range, stored);
    }
    this.watcher.wake();
  }

  /**
   * Appends take no sequence: a document they create is no entry until its request document merges in (a write),
   * and events appended to a stored document do not deliver it again in stored order.
   */
  async append(appends: RequestAppend[]): Promise<void> {
    if (appends.length === 0) return;
    await appendEvents(this.db.collection(this.names.requests), appends);
    this.watcher.wake();
  }

  query<K extends EntryKind>(query: StoreQuery<K>): Promise<Array<StoredEntry<K>>> {
    return this.reads.query(query);
  }

  /** An `_id` as positions write it, and a sequence: anything else is no position of this store. */
  checkPosition(position: EntryPosition): string | undefined {
    return positionProblem(position);
  }

  async writeCheckpoint(checkpoint: CheckpointDocument): Promise<void> {
    await insertCheckpoint(this.db.collection(this.names.checkpoints), checkpoint);
  }

  /** Checkpoints by `uid` (a writer's chain, then its number): every one once, in a stable order. */
  async checkpoints(query: CheckpointQuery): Promise<StoredCheckpoint[]> {
    const filter = query.after === undefined ? {} : { uid: { $gt: query.after } };
    const docs = await this.db.collection(this.names.checkpoints).find(filter).sort({ uid: 1 }).limit(query.limit).toArray();
    return docs.map((doc) => ({ id: String(doc.uid), checkpoint: doc as unknown as CheckpointDocument }));
  }

  count(kind: EntryKind, filter: StoreFilter): Promise<number> {
    return this.reads.count(kind, filter);
  }

  facets(query: FacetQuery): Promise<FacetCount[]> {
    return this.reads.facets(query);
  }

  purge(query: PurgeQuery): Promise<number> {
    return this.lifecycle.purge(query);
  }

  remove(kind: EntryKind, ids: string[]): Promise<number> {
    return this.lifecycle.remove(kind, ids);
  }

  deactivate(id: string): Promise<boolean> {
    return this.lifecycle.deactivate(id);
  }

  async latestAction(actorId: string, actionType: string): Promise<StoredEntry<'actions'> | null> {
    const held = await this.db.collection(this.names.latestActions).findOne({ actor_id: actorId, action_type: actionType });
    return held ? this.reads.byId('actions', held.action_id) : null;
  }

  /** Into the GridFS bucket `<prefix>attachments` (see `MongoAttachments`). */
  async putAttachments(attachments: StoredAttachment[]): Promise<void> {
    await this.opened();
    await this.attachments.put(attachments);
  }

  async readAttachment(id: string): Promise<Readable | null> {
    await this.opened();
    return this.attachments.read(id, new Date());
  }

  /** The TTL index does not reach the bucket (it would leave chunks without their file): expired ones go here. */
  purgeAttachments(query: Omit<PurgeQuery, 'kind'>): Promise<number> {
    return this.attachments.purge(query);
  }

  /** Wakes on this store's writes, and on other processes' through a change stream where the server has them. */
  watch(onWrite: () => void): () => void {
    return this.watcher.add(onWrite);
  }

  /** Stops what `watch` started; the connection belongs to the app and stays open. */
  async close(): Promise<void> {
    await this.watcher.close();
  }

  /** A change stream on this store's entry collections, with only what wakes a reader. */
  private async changes(): Promise<MongoChangeStreamLike> {
    await this.opened();
    const collections = [this.names.requests, this.names.actionLogs, this.names.modelLogs, this.names.activities];
    return this.db.watch([
      { $match: { 'ns.coll': { $in: collections }, operationType: { $in: ['insert', 'update', 'replace'] } } },
      { $project: { operationType: 1, [`fullDocument.${SEQ}`]: 1, [`updateDescription.updatedFields.${SEQ}`]: 1 } },
    ]);
  }
}
