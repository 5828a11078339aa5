import { Long, ObjectId, type Document } from 'bson';
import { find as mingoFind, Query } from 'mingo';
import { Aggregator } from './expressions.js';
import {
  badValue,
  CommandError,
  commandNotFound,
  cursorNotFound,
  DuplicateKeyError,
  failedToParse,
  indexNotFound,
  namespaceExists,
  noSuchTransaction,
  notImplemented,
} from './errors.js';
import {
  Collection,
  type CollectionView,
  Database,
  DirectView,
  getPath,
  idOf,
  type IndexSpec,
  keyOf,
  now,
  TransactionView,
} from './storage.js';
import { hintedIndex, inHintedIndex, winningPlan } from './plan.js';
import { sortDocuments } from './sort.js';
import { hasText, takeText, textIndexSpec } from './text.js';
import { HELLO_COMMANDS, Topology } from './topology.js';
import { applyUpdate, assertSupportedStatement, upsertDocument } from './update.js';
import { copyDocument } from 'actionlog/adapter-kit';

/** Fields any command may carry; they change nothing here (one node, no auth, no read preferences). */
const GENERIC_FIELDS = new Set([
  '$db',
  'lsid',
  'txnNumber',
  'autocommit',
  'startTransaction',
  '$clusterTime',
  'writeConcern',
  'readConcern',
  '$readPreference',
  'comment',
  'maxTimeMS',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
]);

export const MAX_WIRE_VERSION = 21;
const BUILD_VERSION = '7.0.0';
const GIT_VERSION = 'actionlog-test-server';

interface Transaction {
  txnNumber: number;
  state: 'active' | 'committed' | 'aborted';
  /** The write clock when the transaction started. */
  snapshot: number;
  views: Map<string, TransactionView>;
}

interface Session {
  txnNumber: number;
  txn?: Transaction;
  /** Replies of retryable writes, so a retried write is not applied twice (as MongoDB does). */
  retried: Map<number, Document>;
}

interface Cursor {
  ns: string;
  docs: Document[];
}

interface Ctx {
  db: string;
  txn: Transaction | undefined;
  connectionId: number;
  me: string;
  /** The request allows a stream of replies (OP_MSG exhaustAllowed). */
  exhaust: boolean;
}

type Handler = (cmd: Document, ctx: Ctx) => Document;

/** One statement of an `update` command. */
interface UpdateStatement extends Document {
  q?: Document;
  u: Document | Document[];
  upsert?: boolean;
  multi?: boolean;
  arrayFilters?: Document[];
}

/** One statement of a `delete` command. */
interface DeleteStatement extends Document {
  q?: Document;
  limit?: number;
}

const RETRYABLE_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify']);

/** The data and command handlers of the test server. Everything runs synchronously, one command at a time. */
export class WireState {
  readonly databases = new Map<string, Database>();
  readonly topology = new Topology();
  private readonly sessions = new Map<string, Session>();
  private readonly cursors = new Map<number, Cursor>();
  private nextCursorId = 1;

  /**
   * How long the server holds the command before running it: an awaitable hello waits for a topology change
   * (`Topology.waitFor`); anything else, or a hello that is refused, is answered at once.
   */
  awaitTime(body: Document, exhaust = false): number {
    if (!HELLO_COMMANDS.has(Object.keys(body)[0] ?? '')) return 0;
    try {
      return this.topology.waitFor(body, exhaust);
    } catch {
      return 0;
    }
  }

  /**
   * Runs one command and returns its reply document (errors become `{ ok: 0 }` replies). `exhaust`: the request
   * allows a stream of replies, which only the hello commands take.
   */
  run(body: Document, connectionId: number, me: string, exhaust = false): Document {
    const name = Object.keys(body)[0] ?? '';
    const handler = this.handlers[name];
    try {
      const db = String(body.$db ?? 'test');
      const session = body.lsid ? this.session(body.lsid as Document) : undefined;
      if (name === 'commitTransaction' || name === 'abortTransaction') {
        allow(body, ['recoveryToken']);
        return this.endTransaction(name, body, session);
      }
      if (!handler) throw commandNotFound(name);
      const txn = session ? this.transactionFor(body, session) : undefined;
      const retryKey = session && !txn && body.txnNumber !== undefined && RETRYABLE_WRITES.has(name) ? Number(body.txnNumber) : undefined;
      const retried = retryKey === undefined ? undefined : session?.retried.get(retryKey);
      if (retried) return retried;
      let reply: Document;
      try {
        reply = handler(body, { db, txn, connectionId, me, exhaust });
      } catch (error) {
        if (txn) txn.state = 'aborted';
        throw error;
      }
      if (txn && Array.isArray(reply.writeErrors) && reply.writeErrors.length > 0) txn.state = 'aborted';
      if (retryKey !== undefined) session?.retried.set(retryKey, reply);
      return reply;
    } catch (error) {
      if (error instanceof CommandError) return error.toReply();
      return { ok: 0, errmsg: (error as Error).message, code: 1, codeName: 'InternalError' };
    }
  }

  private session(lsid: Document): Session {
    const key = keyOf(lsid.id);
    let s = this.sessions.get(key);
    if (!s) {
      s = { txnNumber: -1, retried: new Map() };
      this.sessions.set(key, s);
    }
    return s;
  }

  private transactionFor(body: Document, session: Session): Transaction | undefined {
    if (body.autocommit !== false) return undefined;
    const txnNumber = Number(body.txnNumber);
    if (body.startTransaction === true) {
      if (txnNumber < session.txnNumber)
        throw new CommandError(225, 'TransactionTooOld', `txnNumber ${txnNumber} is older than ${session.txnNumber}`);
      session.txnNumber = txnNumber;
      session.txn = { txnNumber, state: 'active', snapshot: now(), views: new Map() };
      return session.txn;
    }
    const txn = session.txn;
    if (!txn || txn.txnNumber !== txnNumber || txn.state !== 'active') throw noSuchTransaction(txnNumber);
    return txn;
  }

  private endTransaction(name: string, body: Document, session: Session | undefined): Document {
    const txnNumber = Number(body.txnNumber);
    const txn = session?.txn;
    if (!txn || txn.txnNumber !== txnNumber) throw noSuchTransaction(txnNumber);
    if (name === 'abortTransaction') {
      if (txn.state === 'committed') throw new CommandError(256, 'TransactionCommitted', 'Transaction has been committed');
      txn.state = 'aborted';
      return { ok: 1 };
    }
    if (txn.state === 'committed') return { ok: 1 }; // a retried commit
    if (txn.state === 'aborted') throw noSuchTransaction(txnNumber);
    try {
      const views = [...txn.views.values()];
      for (const view of views) view.commit();
      txn.state = 'committed';
      return { ok: 1 };
    } catch (error) {
      txn.state = 'aborted';
      throw error;
    }
  }

  private database(name: string): Database {
    let db = this.databases.get(name);
    if (!db) {
      db = new Database(name);
      this.databases.set(name, db);
    }
    return db;
  }

  /** The collection as this command sees it, made when missing (as a write makes it). */
  private viewOrCreate(ctx: Ctx, name: string): CollectionView {
    const view = this.view(ctx, name, true);
    if (!view) throw new Error(`collection ${name} could not be made`);
    return view;
  }

  /** The collection as this command sees it: inside its transaction, or directly. */
  private view(ctx: Ctx, name: string, create = true): CollectionView | undefined {
    const collection = this.database(ctx.db).collection(name, create);
    if (!collection) return undefined;
    if (!ctx.txn) return new DirectView(collection);
    let view = ctx.txn.views.get(collection.ns);
    if (!view) {
      view = new TransactionView(collection, ctx.txn.snapshot);
      ctx.txn.views.set(collection.ns, view);
    }
    return view;
  }

  private openCursor(ns: string, docs: Document[], batchSize: number | undefined, single: boolean) {
    const size = batchSize ?? 101;
    const first = docs.slice(0, size);
    let id = 0;
    if (!single && docs.length > size) {
      id = this.nextCursorId++;
      this.cursors.set(id, { ns, docs: docs.slice(size) });
    }
    return { cursor: { id: Long.fromNumber(id), ns, firstBatch: first }, ok: 1 };
  }

  private readonly handlers: Record<string, Handler> = {
    hello: (cmd, ctx) => this.hello(cmd, ctx, 'isWritablePrimary'),
    isMaster: (cmd, ctx) => this.hello(cmd, ctx, 'ismaster'),
    ismaster: (cmd, ctx) => this.hello(cmd, ctx, 'ismaster'),
    buildInfo: (cmd) => this.buildInfo(cmd),
    buildinfo: (cmd) => this.buildInfo(cmd),
    ping: (cmd) => (allow(cmd, []), { ok: 1 }),
    endSessions: (cmd) => {
      allow(cmd, []);
      for (const lsid of cmd.endSessions as Document[]) this.sessions.delete(keyOf(lsid.id));
      return { ok: 1 };
    },
    listDatabases: (cmd) => {
      allow(cmd, ['nameOnly', 'filter', 'authorizedDatabases']);
      const names = [...this.databases.keys()];
      return { databases: names.map((name) => ({ name, sizeOnDisk: 0, empty: false })), totalSize: 0, ok: 1 };
    },

    insert: (cmd, ctx) => {
      allow(cmd, ['documents', 'ordered', 'bypassDocumentValidation']);
      const view = this.viewOrCreate(ctx, String(cmd.insert));
      const docs = (cmd.documents as Document[] | undefined) ?? [];
      const ordered = cmd.ordered !== false;
      const writeErrors: Document[] = [];
      let n = 0;
      for (const [index, doc] of docs.entries()) {
        try {
          view.insert(copyDocument(doc));
          n++;
        } catch (error) {
          writeErrors.push(writeError(error, index));
          if (ordered) break;
        }
      }
      return withWriteErrors({ n, ok: 1 }, writeErrors);
    },

    update: (cmd, ctx) => {
      allow(cmd, ['updates', 'ordered', 'bypassDocumentValidation', 'let']);
      if (cmd.let) throw notImplemented("update's let");
      const view = this.viewOrCreate(ctx, String(cmd.update));
      const ordered = cmd.ordered !== false;
      const writeErrors: Document[] = [];
      const upserted: Document[] = [];
      let n = 0;
      let nModified = 0;
      for (const [index, statement] of (cmd.updates as UpdateStatement[]).entries()) {
        try {
          assertSupportedStatement(statement, ['q', 'u', 'upsert', 'multi', 'arrayFilters', 'hint']);
          checkHint(view, statement.hint);
          const matches = match(view, statement.q ?? {});
          const targets = statement.multi ? matches : matches.slice(0, 1);
          if (targets.length === 0 && statement.upsert) {
            const doc = upsertDocument(statement.q ?? {}, statement.u, statement.arrayFilters);
            view.insert(doc);
            upserted.push({ index, _id: doc._id as unknown });
            n++;
            continue;
          }
          if (statement.multi && !Array.isArray(statement.u) && !Object.keys(statement.u).every((k) => k.startsWith('$'))) {
            throw failedToParse('multi update is not supported for replacement-style update');
          }
          for (const doc of targets) {
            const next = applyUpdate(doc, statement.u, { arrayFilters: statement.arrayFilters, condition: statement.q, inserting: false });
            n++;
            if (!sameDocument(doc, next)) {
              view.replace(idOf(doc), next);
              nModified++;
            }
          }
        } catch (error) {
          writeErrors.push(writeError(error, index));
          if (ordered) break;
        }
      }
      const reply: Document = { n, nModified, ok: 1 };
      if (upserted.length) reply.upserted = upserted;
      return withWriteErrors(reply, writeErrors);
    },

    delete: (cmd, ctx) => {
      allow(cmd, ['deletes', 'ordered', 'let']);
      if (cmd.let) throw notImplemented("delete's let");
      const view = this.viewOrCreate(ctx, String(cmd.delete));
      const ordered = cmd.ordered !== false;
      const writeErrors: Document[] = [];
      let n = 0;
      for (const [index, statement] of (cmd.deletes as DeleteStatement[]).entries()) {
        try {
          assertSupportedStatement(statement, ['q', 'limit', 'hint']);
          checkHint(view, statement.hint);
          const matches = match(view, statement.q ?? {});
          for (const doc of statement.limit === 1 ? matches.slice(0, 1) : matches) {
            view.remove(idOf(doc));
            n++;
          }
        } catch (error) {
          writeErrors.push(writeError(error, index));
          if (ordered) break;
        }
      }
      return withWriteErrors({ n, ok: 1 }, writeErrors);
    },

    find: (cmd, ctx) => {
      allow(cmd, FIND_OPTIONS);
      if (cmd.let) throw notImplemented("find's let");
      const view = this.view(ctx, String(cmd.find), false);
      const ns = `${ctx.db}.${cmd.find}`;
      if (!view) return this.openCursor(ns, matchNothing((cmd.filter as Document | undefined) ?? {}, ns), undefined, true);
      const limit = cmd.limit === undefined ? 0 : Number(cmd.limit);
      const docs = select(
        view,
        (cmd.filter as Document | undefined) ?? {},
        cmd.sort as Document | undefined,
        cmd.projection as Document | undefined,
        {
          skip: cmd.skip === undefined ? 0 : Number(cmd.skip),
          limit: Math.abs(limit),
        },
        cmd.hint,
      );
      return this.openCursor(
        ns,
        docs,
        cmd.batchSize === undefined ? undefined : Number(cmd.batchSize),
        cmd.singleBatch === true || limit < 0,
      );
    },

    explain: (cmd, ctx) => {
      allow(cmd, ['verbosity']);
      // MongoDB's default verbosity runs the plans; only the planner's answer is given here.
      const verbosity = (cmd.verbosity as string | undefined) ?? 'allPlansExecution';
      if (verbosity !== 'queryPlanner') throw notImplemented(`explain with verbosity ${verbosity}`);
      const inner = cmd.explain as Document;
      const name = Object.keys(inner)[0] ?? '';
      if (name !== 'find') throw notImplemented(`explain of ${name}`);
      allow(inner, FIND_OPTIONS);
      const view = this.view(ctx, String(inner.find), false);
      const filter = (inner.filter as Document | undefined) ?? {};
      const plan = winningPlan(view?.collection.indexes, view?.all() ?? [], {
        filter,
        sort: inner.sort as Document | undefined,
        projection: inner.projection as Document | undefined,
        hint: inner.hint,
        skip: inner.skip === undefined ? undefined : Number(inner.skip),
        limit: inner.limit === undefined ? undefined : Number(inner.limit),
      });
      return {
        explainVersion: '1',
        queryPlanner: { namespace: `${ctx.db}.${inner.find}`, indexFilterSet: false, winningPlan: plan, rejectedPlans: [] },
        command: { ...inner, $db: ctx.db },
        serverInfo: { host: ctx.me, version: BUILD_VERSION, gitVersion: GIT_VERSION },
        ok: 1,
      };
    },

    getMore: (cmd, ctx) => {
      allow(cmd, ['collection', 'batchSize']);
      if (ctx.exhaust) throw notImplemented('an exhaust getMore');
      const id = Number(cmd.getMore);
      const cursor = this.cursors.get(id);
      if (!cursor) throw cursorNotFound(id);
      const size = cmd.batchSize ? Number(cmd.batchSize) : cursor.docs.length;
      const batch = cursor.docs.splice(0, size);
      const done = cursor.docs.length === 0;
      if (done) this.cursors.delete(id);
      return { cursor: { id: Long.fromNumber(done ? 0 : id), ns: cursor.ns, nextBatch: batch }, ok: 1 };
    },

    killCursors: (cmd) => {
      allow(cmd, ['cursors']);
      const killed: Long[] = [];
      const notFound: Long[] = [];
      for (const raw of cmd.cursors as unknown[]) {
        const id = Number(raw);
        (this.cursors.delete(id) ? killed : notFound).push(Long.fromNumber(id));
      }
      return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
    },

    findAndModify: (cmd, ctx) => {
      allow(cmd, [
        'query',
        'sort',
        'remove',
        'update',
        'new',
        'fields',
        'upsert',
        'arrayFilters',
        'bypassDocumentValidation',
        'hint',
        'let',
      ]);
      if (cmd.let) throw notImplemented("findAndModify's let");
      const view = this.viewOrCreate(ctx, String(cmd.findAndModify));
      const query = (cmd.query as Document | undefined) ?? {};
      const update = cmd.update as Document | Document[] | undefined;
      const arrayFilters = cmd.arrayFilters as Document[] | undefined;
      const [doc] = select(view, query, cmd.sort as Document | undefined, undefined);
      const project = (d: Document | null) => (d && cmd.fields ? project1(d, cmd.fields as Document) : d);
      if (cmd.remove) {
        if (update !== undefined || cmd.new) throw failedToParse('remove cannot be combined with update or new');
        if (doc) view.remove(idOf(doc));
        return { lastErrorObject: { n: doc ? 1 : 0 }, value: project(doc ?? null), ok: 1 };
      }
      if (update === undefined) throw failedToParse('Either an update or remove=true must be specified');
      if (!doc) {
        if (!cmd.upsert) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
        const inserted = upsertDocument(query, update, arrayFilters);
        view.insert(inserted);
        return {
          lastErrorObject: { n: 1, updatedExisting: false, upserted: inserted._id as unknown },
          value: cmd.new ? project(inserted) : null,
          ok: 1,
        };
      }
      const next = applyUpdate(doc, update, { arrayFilters, condition: query, inserting: false });
      if (!sameDocument(doc, next)) view.replace(idOf(doc), next);
      return { lastErrorObject: { n: 1, updatedExisting: true }, value: project(cmd.new ? next : doc), ok: 1 };
    },

    aggregate: (cmd, ctx) => {
      allow(cmd, ['pipeline', 'cursor', 'allowDiskUse', 'hint', 'let', 'explain', 'bypassDocumentValidation']);
      if (cmd.let) throw notImplemented("aggregate's let");
      if (cmd.explain) throw notImplemented('explain');
      checkHint(this.view(ctx, String(cmd.aggregate), false), cmd.hint);
      const pipeline = cmd.pipeline as Document[];
      for (const stage of pipeline) {
        const stageName = Object.keys(stage)[0] ?? '';
        if (
          ['$out', '$merge', '$changeStream', '$collStats', '$indexStats', '$currentOp', '$geoNear', '$search', '$listSessions'].includes(
            stageName,
          )
        ) {
          throw notImplemented(`the ${stageName} stage`);
        }
      }
      const { source, stages } = this.aggregateSource(cmd, ctx, pipeline);
      const aggregator = new Aggregator(stages, {
        collectionResolver: (name: string) => this.view(ctx, name, false)?.all() ?? [],
      });
      let docs: Document[];
      try {
        docs = aggregator.run<Document>(source).map((doc) => copyDocument(doc));
      } catch (error) {
        throw badValue(`aggregation failed: ${(error as Error).message}`);
      }
      const batchSize: unknown = (cmd.cursor as Document | undefined)?.batchSize;
      return this.openCursor(`${ctx.db}.${cmd.aggregate}`, docs, batchSize === undefined ? undefined : Number(batchSize), false);
    },

    count: (cmd, ctx) => {
      allow(cmd, ['query', 'limit', 'skip', 'hint']);
      const view = this.view(ctx, String(cmd.count), false);
      checkHint(view, cmd.hint);
      const query = (cmd.query as Document | undefined) ?? {};
      let n = (view ? match(view, query) : matchNothing(query, `${ctx.db}.${cmd.count}`)).length;
      if (cmd.skip) n = Math.max(0, n - Number(cmd.skip));
      if (cmd.limit) n = Math.min(n, Math.abs(Number(cmd.limit)));
      return { n, ok: 1 };
    },

    distinct: (cmd, ctx) => {
      allow(cmd, ['key', 'query', 'hint']);
      const view = this.view(ctx, String(cmd.distinct), false);
      checkHint(view, cmd.hint);
      const seen = new Map<string, unknown>();
      for (const doc of view ? match(view, (cmd.query as Document | undefined) ?? {}) : []) {
        const value = getPath(doc, String(cmd.key));
        for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) seen.set(keyOf(v), v);
      }
      return { values: [...seen.values()], ok: 1 };
    },

    create: (cmd, ctx) => {
      allow(cmd, []);
      const db = this.database(ctx.db);
      const name = String(cmd.create);
      if (db.collections.has(name)) throw namespaceExists(`${ctx.db}.${name}`);
      db.collection(name);
      return { ok: 1 };
    },

    drop: (cmd, ctx) => {
      allow(cmd, []);
      const db = this.database(ctx.db);
      const existed = db.collections.delete(String(cmd.drop));
      return existed ? { ns: `${ctx.db}.${cmd.drop}`, nIndexesWas: 1, ok: 1 } : { ok: 1 };
    },

    dropDatabase: (cmd, ctx) => {
      allow(cmd, []);
      this.databases.delete(ctx.db);
      return { dropped: ctx.db, ok: 1 };
    },

    listCollections: (cmd, ctx) => {
      allow(cmd, ['filter', 'nameOnly', 'authorizedCollections', 'cursor']);
      const db = this.database(ctx.db);
      const infos = [...db.collections.values()].map((c) => {
        const name = c.ns.slice(ctx.db.length + 1);
        return cmd.nameOnly
          ? { name, type: 'collection' }
          : { name, type: 'collection', options: {}, info: { readOnly: false }, idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } };
      });
      const filtered = cmd.filter ? infos.filter((i) => new Query(cmd.filter as Document).test(i)) : infos;
      return this.openCursor(`${ctx.db}.$cmd.listCollections`, filtered, undefined, false);
    },

    createIndexes: (cmd, ctx) => {
      allow(cmd, ['indexes', 'commitQuorum']);
      const db = this.database(ctx.db);
      const name = String(cmd.createIndexes);
      const created = !db.collections.has(name);
      const collection = db.collectionOrCreate(name);
      const before = collection.indexes.length;
      for (const raw of cmd.indexes as Document[]) collection.createIndex(indexSpec(raw));
      const reply: Document = {
        numIndexesBefore: before,
        numIndexesAfter: collection.indexes.length,
        createdCollectionAutomatically: created,
        ok: 1,
      };
      if (before === collection.indexes.length) reply.note = 'all indexes already exist';
      return reply;
    },

    listIndexes: (cmd, ctx) => {
      allow(cmd, ['cursor']);
      const collection = this.database(ctx.db).collection(String(cmd.listIndexes), false);
      if (!collection) throw new CommandError(26, 'NamespaceNotFound', `ns does not exist: ${ctx.db}.${cmd.listIndexes}`);
      return this.openCursor(
        `${ctx.db}.$cmd.listIndexes.${cmd.listIndexes}`,
        collection.indexes.map((i) => ({ ...i })),
        undefined,
        false,
      );
    },

    dropIndexes: (cmd, ctx) => {
      allow(cmd, ['index']);
      const collection = this.database(ctx.db).collection(String(cmd.dropIndexes), false);
      if (!collection) throw new CommandError(26, 'NamespaceNotFound', `ns not found ${ctx.db}.${cmd.dropIndexes}`);
      const before = collection.indexes.length;
      const names =
        cmd.index === '*'
          ? collection.indexes.filter((i) => i.name !== '_id_').map((i) => i.name)
          : Array.isArray(cmd.index)
            ? (cmd.index as string[])
            : typeof cmd.index === 'string'
              ? [cmd.index]
              : collection.indexes.filter((i) => keyOf(i.key) === keyOf(cmd.index)).map((i) => i.name);
      for (const name of names) {
        if (name === '_id_') throw badValue('cannot drop _id index');
        if (!collection.indexes.some((i) => i.name === name)) throw indexNotFound(`index not found with name [${name}]`);
        collection.dropIndex(name);
      }
      return { nIndexesWas: before, ok: 1 };
    },
  };

  /** The documents a pipeline starts from: a first `$match` with `$text` is applied here, where the index is known. */
  private aggregateSource(cmd: Document, ctx: Ctx, pipeline: Document[]): { source: Document[]; stages: Document[] } {
    for (const stage of pipeline.slice(1)) {
      if (stage.$match && hasText(stage.$match)) {
        throw new CommandError(17313, 'Location17313', '$match with $text is only allowed as the first pipeline stage');
      }
    }
    if (cmd.aggregate === 1) return { source: [], stages: pipeline };
    const view = this.view(ctx, String(cmd.aggregate), false);
    const first = pipeline[0]?.$match as Document | undefined;
    if (!first) return { source: view?.all() ?? [], stages: pipeline };
    const ns = `${ctx.db}.${cmd.aggregate}`;
    const { rest, test } = takeText(first, view?.collection.indexes, ns);
    const all = view?.all() ?? [];
    return { source: test ? all.filter(test) : all, stages: [{ $match: rest }, ...pipeline.slice(1)] };
  }

  private hello(cmd: Document, ctx: Ctx, primaryField: 'isWritablePrimary' | 'ismaster'): Document {
    allow(cmd, [
      'helloOk',
      'client',
      'compression',
      'saslSupportedMechs',
      'speculativeAuthenticate',
      'loadBalanced',
      'backpressure',
      'topologyVersion',
      'maxAwaitTimeMS',
    ]);
    if (cmd.loadBalanced) throw notImplemented('load-balanced mode');
    // The wait itself is the server's (awaitTime); here the options are checked as MongoDB checks them.
    this.topology.waitFor(cmd, ctx.exhaust);
    return {
      helloOk: true,
      topologyVersion: this.topology.version,
      [primaryField]: true,
      maxBsonObjectSize: 16 * 1024 * 1024,
      maxMessageSizeBytes: 48_000_000,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: ctx.connectionId,
      minWireVersion: 0,
      maxWireVersion: MAX_WIRE_VERSION,
      readOnly: false,
      // A one-member replica set, so drivers allow sessions, retryable writes and transactions.
      setName: 'rs0',
      setVersion: 1,
      hosts: [ctx.me],
      primary: ctx.me,
      me: ctx.me,
      secondary: false,
      electionId: new ObjectId('7fffffff0000000000000001'),
      ok: 1,
    };
  }

  private buildInfo(cmd: Document): Document {
    allow(cmd, []);
    return {
      version: BUILD_VERSION,
      versionArray: [7, 0, 0, 0],
      gitVersion: GIT_VERSION,
      bits: 64,
      maxBsonObjectSize: 16 * 1024 * 1024,
      ok: 1,
    };
  }
}

/** Refuses options this server does not implement, instead of ignoring them. */
function allow(cmd: Document, fields: readonly string[]): void {
  const [name, ...rest] = Object.keys(cmd);
  for (const field of rest) {
    if (!GENERIC_FIELDS.has(field) && !fields.includes(field)) throw notImplemented(`the '${field}' option of ${name}`);
  }
  if (cmd.collation) throw notImplemented('collation');
}

const FIND_OPTIONS = [
  'filter',
  'sort',
  'projection',
  'skip',
  'limit',
  'batchSize',
  'singleBatch',
  'hint',
  'noCursorTimeout',
  'allowDiskUse',
  'let',
];

const TEXT_OPTIONS = ['weights', 'default_language', 'language_override', 'textIndexVersion'];

function indexSpec(raw: Document): IndexSpec {
  const allowed = ['key', 'name', 'unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression', 'background', 'v'];
  const text = Object.values(raw.key as Document).includes('text');
  for (const field of Object.keys(raw)) {
    if (!allowed.includes(field) && !(text && TEXT_OPTIONS.includes(field))) throw notImplemented(`the index option '${field}'`);
  }
  if (!raw.name) throw badValue('index name is required');
  if (text) {
    if (raw.unique || raw.expireAfterSeconds !== undefined || raw.partialFilterExpression) {
      throw notImplemented('unique, TTL or partial text indexes');
    }
    return textIndexSpec(raw);
  }
  for (const [field, dir] of Object.entries(raw.key as Document)) {
    if (dir !== 1 && dir !== -1) throw notImplemented(`index type ${JSON.stringify(dir)} on '${field}'`);
  }
  const spec: IndexSpec = { v: 2, key: raw.key as Record<string, number>, name: String(raw.name) };
  if (raw.unique) spec.unique = true;
  if (raw.sparse) spec.sparse = true;
  if (raw.expireAfterSeconds !== undefined) spec.expireAfterSeconds = Number(raw.expireAfterSeconds);
  if (raw.partialFilterExpression) spec.partialFilterExpression = raw.partialFilterExpression as Document;
  return spec;
}

/** Documents matching a filter, in natural order; an `_id` equality reads one document directly. */
function match(view: CollectionView, filter: Document): Document[] {
  const keys = Object.keys(filter);
  if (keys.length === 1 && keys[0] === '_id' && !isOperatorObject(filter._id)) {
    const doc = view.get(keyOf(filter._id));
    return doc ? [doc] : [];
  }
  const { rest, test } = takeText(filter, view.collection.indexes, view.ns);
  let query: Query;
  try {
    query = new Query(rest);
  } catch (error) {
    throw badValue(`bad query: ${(error as Error).message}`);
  }
  return view.all().filter((d) => (!test || test(d)) && query.test(d));
}

/** A query on a collection that does not exist matches nothing, but `$text` there fails as in MongoDB. */
/** A hint outside find: refused as MongoDB does when no index fits; a sparse one (which would narrow the match) is not done here. */
function checkHint(view: CollectionView | undefined, hint: unknown): void {
  if (!view || hint === undefined) return;
  const index = hintedIndex(view.collection.indexes, hint);
  if ('key' in index && index.sparse) throw notImplemented('a hint of a sparse index outside find');
}

function matchNothing(filter: Document, ns: string): Document[] {
  takeText(filter, undefined, ns);
  return [];
}

function isOperatorObject(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype &&
    Object.keys(value).some((k) => k.startsWith('$'))
  );
}

/** Matches, sorts, skips and limits (0: no limit), then projects what is left, as MongoDB does. */
function select(
  view: CollectionView,
  filter: Document,
  sort: Document | undefined,
  projection: Document | undefined,
  page: { skip: number; limit: number } = { skip: 0, limit: 0 },
  hint?: unknown,
): Document[] {
  let docs = match(view, filter);
  if (hint !== undefined) docs = inHintedIndex(hintedIndex(view.collection.indexes, hint), docs);
  if (sort && Object.keys(sort).length > 0) docs = sortDocuments(docs, sort);
  docs = docs.slice(page.skip, page.limit === 0 ? undefined : page.skip + page.limit);
  return projection && Object.keys(projection).length > 0 ? mingoFind(docs, {}, projection as never).all() : docs;
}

function project1(doc: Document, projection: Document): Document {
  return mingoFind([doc], {}, projection as never).all()[0] as Document;
}

function sameDocument(a: Document, b: Document): boolean {
  return keyOf(a) === keyOf(b);
}

function writeError(error: unknown, index: number): Document {
  // Labelled errors (WriteConflict in a transaction) fail the whole command, as in MongoDB.
  if (error instanceof CommandError && error.errorLabels.length > 0) throw error;
  if (error instanceof DuplicateKeyError) return error.toWriteError(index);
  if (error instanceof CommandError) return { index, code: error.code, errmsg: error.message };
  return { index, code: 1, errmsg: (error as Error).message };
}

function withWriteErrors(reply: Document, writeErrors: Document[]): Document {
  if (writeErrors.length) reply.writeErrors = writeErrors;
  return reply;
}

export { Collection };
