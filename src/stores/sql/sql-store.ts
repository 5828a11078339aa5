import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { z } from 'zod';
import type { StoredAttachment } from '../../shared/document.js';
import { ActionLogConfigError, ActionLogStoreError } from '../../shared/errors.js';
import { parseOptions, requireObject } from '../../shared/parse-options.js';
import { DEFAULT_PREFIX } from '../tables.js';
import { SqlAttachments } from './sql-attachments.js';
import { POSTGRES, SQLITE } from './sql-dialects.js';
import { SqlLifecycle } from './sql-lifecycle.js';
import { positionProblem, SqlReads } from './sql-reads.js';
import { SqlRows } from './sql-rows.js';
import { type SqlTables, sqlTableNames } from './sql-schema.js';
import { setUpTables } from './sql-setup.js';
import { batchParts, runInTransaction, SQLITE_DOCUMENTS_PER_WRITE, sqliteWritable } from './sql-run.js';
import type { SqlDataSourceLike, SqlProgram, SqlRow, SqlStep } from './sql-types.js';
import { type PgPoolLike, SqlWatch } from './sql-watch.js';
import { SqlWrites } from './sql-writes.js';
import type {
  CheckpointDocument,
  CheckpointQuery,
  StoredCheckpoint,
  EntryKind,
  EntryPosition,
  EntryOf,
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
import { newUuid } from '../../shared/uuid.js';

/** Options of `new SqlStore(...)`. */
export interface SqlStoreOptions {
  /**
   * A TypeORM DataSource (PostgreSQL, or SQLite through better-sqlite3), or a function returning it when the
   * DataSource is made after the logger (its `subscribers` option naming the logger's subscriber). It need not
   * be initialized yet: the store waits for `initialize()` before its first write.
   */
  dataSource: SqlDataSourceLike | (() => SqlDataSourceLike);
  /** Prefix of the table names. Default `"actionlog_"`; `""` keeps the names of versions before 0.2 (`requests`...). */
  prefix?: string;
  /** Table names, one by one, over the prefixed ones. */
  tables?: Partial<SqlTables>;
  /** Create missing tables and indexes when the logger starts (idempotent). Default true; false when your migrations do. */
  createTables?: boolean;
}

const isDataSource = (v: unknown): v is SqlDataSourceLike =>
  v !== null && typeof v === 'object' && typeof (v as SqlDataSourceLike).query === 'function' && 'options' in v;
const tableName = z.string().min(1, 'must not be empty').max(63, 'must be at most 63 characters');

const schema = z.strictObject({
  dataSource: z.custom<SqlDataSourceLike | (() => SqlDataSourceLike)>((v) => typeof v === 'function' || isDataSource(v), {
    error: 'must be a TypeORM DataSource, or a function returning one',
  }),
  prefix: z.string().max(40, 'must be at most 40 characters').default(DEFAULT_PREFIX),
  tables: z
    .strictObject({
      requests: tableName,
      actionLogs: tableName,
      modelLogs: tableName,
      activities: tableName,
      latestActions: tableName,
      attachments: tableName,
      checkpoints: tableName,
    })
    .partial()
    .default({}),
  createTables: z.boolean().default(true),
});

const SUPPORTED = ['postgres', 'better-sqlite3'];
/** How long the first write waits for the app to initialize its DataSource before saying so. */
const INITIALIZE_WAIT_MS = 30_000;

interface Ready {
  dataSource: SqlDataSourceLike;
  postgres: boolean;
  writes: SqlWrites;
  reads: SqlReads;
  rows: SqlRows;
  lifecycle: SqlLifecycle;
  attachments: SqlAttachments;
}

/**
 * Stores documents in SQL tables of a TypeORM DataSource: PostgreSQL (jsonb, timestamptz) or SQLite through
 * better-sqlite3 (JSON text). It creates its tables itself (unless `createTables: false`) and runs plain SQL
 * only: its writes are never audited (no subscribers run) and need no entities. Each write or append is one
 * transaction, idempotent under retry (a `uid` per row, applied append ids). On SQLite it runs synchronously
 * on the driver's connection once no app transaction is open, so its writes can neither interleave with the
 * app's queries nor be rolled back with them. Reads go through indexes (see the README, "SQL store").
 */
export class SqlStore implements Store {
  private readonly source: () => SqlDataSourceLike;
  private readonly options: z.output<typeof schema>;
  private readonly namesGiven: boolean;
  /** The id each document of a batch gets on its first attempt, so that a retry is recognised. */
  private readonly uids = new WeakMap<object, string>();
  private starting: Promise<void> | undefined;
  private ready: Ready | undefined;
  private warn: (error: Error) => void = () => undefined;
  /** Option `latestActions` of the logger, from `init`. */
  private latestOn = false;
  private readonly watching: SqlWatch;

  constructor(options: SqlStoreOptions) {
    requireObject(options, '{ dataSource }', 'SqlStore options');
    this.options = parseOptions(schema, options, 'SqlStore options');
    const given = this.options.dataSource;
    this.source = typeof given === 'function' ? given : () => given;
    if (typeof given !== 'function') checkType(given);
    this.namesGiven = Object.hasOwn(options, 'prefix') || Object.hasOwn(options, 'tables');
    // Its writes NOTIFY the channel named as the trail's requests table; other processes' stores listen to it.
    this.watching = new SqlWatch(
      this.tables.requests,
      () => this.listenPool(),
      (error) => {
        this.warn(error);
      },
    );
  }

  /** The table names in use. */
  get tables(): Readonly<SqlTables> {
    return sqlTableNames(this.options.prefix, this.options.tables);
  }

  init(info?: StoreInfo): Promise<void> {
    if (info) {
      this.warn = info.warn;
      // Sticky: a logger without the option sharing this store does not stop it for the one that has it.
      this.latestOn ||= info.latestActions === true;
    }
    this.starting ??= this.start(info).catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async start(info: StoreInfo | undefined): Promise<void> {
    const dataSource = await this.initialized();
    const postgres = checkType(dataSource) === 'postgres';
    const engine = postgres ? 'postgres' : 'sqlite';
    const tables = this.tables;
    await setUpTables(dataSource, { engine, tables, createTables: this.options.createTables, namesGiven: this.namesGiven }, info);
    const d = postgres ? POSTGRES : SQLITE;
    this.ready = {
      dataSource,
      postgres,
      writes: new SqlWrites(
        d,
        tables,
        (doc) => this.uid(doc),
        () => this.latestOn,
        postgres,
      ),
      reads: new SqlReads(d, engine, tables),
      rows: new SqlRows(d),
      lifecycle: new SqlLifecycle(d, engine, tables),
      attachments: new SqlAttachments(d, tables),
    };
  }

  async ping(): Promise<void> {
    const dataSource = this.source();
    if (!dataSource.isInitialized) throw new ActionLogStoreError('SqlStore: the DataSource is not initialized', 0);
    await dataSource.query('SELECT 1');
    await sqliteWritable(dataSource);
  }

  async write(batch: StoreBatch): Promise<void> {
    const { writes, postgres } = this.state();
    if (postgres) return this.run(writes.write(batch));
    // Each part its own transaction: when a later one fails, the writer's retry writes the earlier ones again, and
    // the store keeps every document once (by its uid).
    for (const [index, part] of batchParts(batch, SQLITE_DOCUMENTS_PER_WRITE).entries()) {
      if (index > 0) await setImmediate();
      await this.run(writes.write(part));
    }
  }

  async append(appends: RequestAppend[]): Promise<void> {
    if (appends.length > 0) await this.run(this.state().writes.append(appends));
  }

  async writeCheckpoint(checkpoint: CheckpointDocument): Promise<void> {
    await this.run(this.state().writes.checkpoint(checkpoint));
  }

  async checkpoints(query: CheckpointQuery): Promise<StoredCheckpoint[]> {
    const { reads, rows } = await this.readable();
    const after = query.after !== undefined && /^\d{1,15}$/.test(query.after) ? Number(query.after) : 0;
    return (await this.select(reads.checkpoints(after, query.limit))).map((row) => ({
      id: String(row.id),
      checkpoint: rows.checkpoint(row),
    }));
  }

  async query<K extends EntryKind>(query: StoreQuery<K>): Promise<Array<StoredEntry<K>>> {
    const { reads, rows } = await this.readable();
    return (await this.select(reads.query(query))).map((row) => ({
      entry: rows.document(query.kind, row) as EntryOf[K],
      position: reads.position(query.kind, row),
    }));
  }

  /**
   * Row ids, and `txid:id` sequences on PostgreSQL. Asked before the store may have started: the engine is then read
   * off the DataSource.
   */
  checkPosition(position: EntryPosition): string | undefined {
    const postgres = this.ready?.postgres ?? checkType(this.source()) === 'postgres';
    return positionProblem(postgres ? 'postgres' : 'sqlite', position);
  }

  async count(kind: EntryKind, filter: StoreFilter): Promise<number> {
    const { reads } = await this.readable();
    const [row] = await this.select(reads.count(kind, filter));
    return Number(row?.n ?? 0);
  }

  async facets(query: FacetQuery): Promise<FacetCount[]> {
    const { reads } = await this.readable();
    return (await this.select(reads.facets(query))).map((row) => ({ value: String(row.value), count: Number(row.n) }));
  }

  /** One batch of a purge, in a transaction of its own. */
  async purge(query: PurgeQuery): Promise<number> {
    if (query.limit < 1) return 0;
    const { lifecycle } = await this.readable();
    return this.change(lifecycle.purge(query));
  }

  async remove(kind: EntryKind, ids: string[]): Promise<number> {
    // Ids of this store are row numbers; anything else names no entry of it.
    const rows = ids.filter((id) => /^\d{1,15}$/.test(id)).map(Number);
    if (rows.length === 0) return 0;
    const { lifecycle } = await this.readable();
    return this.change(lifecycle.remove(kind, rows));
  }

  async deactivate(id: string): Promise<boolean> {
    // Ids of this store are row numbers; anything else names no entry of it.
    if (!/^\d{1,15}$/.test(id)) return false;
    const { lifecycle } = await this.readable();
    return (await this.change(lifecycle.deactivate(Number(id)))) > 0;
  }

  async latestAction(actorId: string, actionType: string): Promise<StoredEntry<'actions'> | null> {
    const { reads, rows } = await this.readable();
    const [row] = await this.select(reads.latest(actorId, actionType));
    return row ? { entry: rows.document('actions', row) as EntryOf['actions'], position: reads.position('actions', row) } : null;
  }

  /** One transaction for the batch's attachments (before the batch itself, see `Store.putAttachments`). */
  async putAttachments(attachments: StoredAttachment[]): Promise<void> {
    if (attachments.length === 0) return;
    const { dataSource, attachments: statements } = await this.readable();
    await runInTransaction(dataSource, statements.put(attachments));
  }

  /** The bytes of one row, whole (an attachment is at most the `attachments.maxBytes` of the logger that stored it). */
  async readAttachment(id: string): Promise<Readable | null> {
    const { attachments } = await this.readable();
    const [row] = await this.select(attachments.read(id, new Date()));
    if (!row) return null;
    const data = row.data;
    return Readable.from([Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array)], { objectMode: false });
  }

  async purgeAttachments(query: Omit<PurgeQuery, 'kind'>): Promise<number> {
    if (query.limit < 1) return 0;
    const { lifecycle } = await this.readable();
    return this.change(lifecycle.purgeAttachments(query));
  }

  /**
   * Wakes `onWrite` after this store's writes; on PostgreSQL also on those of other processes (LISTEN on a
   * connection of the store's own, closed by `close()` or when the last watcher stops).
   */
  watch(onWrite: () => void): () => void {
    return this.watching.add(onWrite);
  }

  /** Closes the store's listening connection; the DataSource belongs to the app and stays open. */
  async close(): Promise<void> {
    await this.watching.close();
  }

  private uid(doc: object): string {
    let uid = this.uids.get(doc);
    if (!uid) {
      uid = newUuid();
      this.uids.set(doc, uid);
    }
    return uid;
  }

  private state(): Ready {
    if (!this.ready) throw new ActionLogStoreError('SqlStore: init() has not run', 0);
    return this.ready;
  }

  /** Reads work before the logger's first write too: the store starts on the first of either. */
  private async readable(): Promise<Ready> {
    if (!this.ready) await this.init();
    return this.state();
  }

  private async select(step: SqlStep): Promise<SqlRow[]> {
    return (await this.state().dataSource.query(step.sql, step.params)) as SqlRow[];
  }

  /** PostgreSQL: node-postgres's pool under TypeORM's driver, whose options the listening connection copies. */
  private async listenPool(): Promise<PgPoolLike | undefined> {
    const { dataSource, postgres } = await this.readable();
    return postgres ? (dataSource.driver as { master?: PgPoolLike }).master : undefined;
  }

  /** The DataSource once the app has initialized it (a store made before `initialize()` waits for it). */
  private async initialized(): Promise<SqlDataSourceLike> {
    const deadline = Date.now() + INITIALIZE_WAIT_MS;
    for (let wait = 5; ; wait = Math.min(wait * 2, 250)) {
      const dataSource = this.source();
      if (dataSource.isInitialized) return dataSource;
      if (Date.now() > deadline) {
        throw new ActionLogStoreError(
          `SqlStore: the DataSource is still not initialized after ${INITIALIZE_WAIT_MS / 1000} s: call dataSource.initialize()`,
          0,
        );
      }
      // Unref'd: a store waiting for its DataSource never keeps the process alive by itself.
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
  }

  /** Runs a statement of `SqlLifecycle` in a transaction of the store's own: how many rows it changed. */
  private async change(step: SqlStep): Promise<number> {
    const { dataSource, postgres } = this.state();
    let rows: SqlRow[] = [];
    await runInTransaction(
      dataSource,
      (function* (): SqlProgram {
        rows = yield step;
      })(),
    );
    return postgres ? Number(rows[0]?.n ?? 0) : rows.length;
  }

  private async run(program: SqlProgram): Promise<void> {
    const { dataSource, postgres } = this.state();
    await runInTransaction(dataSource, postgres ? this.notifying(program) : program);
    this.watching.wake();
  }

  /** PostgreSQL: the program, then a notification to every process listening, delivered at commit (see `watch`). */
  private *notifying(program: SqlProgram): SqlProgram {
    yield* program;
    yield { sql: 'SELECT pg_notify($1, $2)', params: [this.tables.requests, ''] };
  }
}

/** The DataSource's type, when the store supports it. */
function checkType(dataSource: SqlDataSourceLike): string {
  const type = dataSource.options.type;
  if (!SUPPORTED.includes(type)) {
    throw new ActionLogConfigError(
      [{ path: 'dataSource', message: `is ${type}: the SQL store supports ${SUPPORTED.join(' and ')}` }],
      'SqlStore options',
    );
  }
  return type;
}
