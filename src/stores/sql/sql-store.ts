import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ActionLogDocument, ActivityDocument, ModelLogDocument, RequestDocument } from '../../shared/document.js';
import { ActionLogConfigError, ActionLogStoreError } from '../../shared/errors.js';
import { parseOptions, requireObject } from '../../shared/parse-options.js';
import { DEFAULT_PREFIX, TABLES } from '../tables.js';
import { POSTGRES, SQLITE } from './sql-dialects.js';
import { SqlReads } from './sql-reads.js';
import { requiredColumns, schemaStatements, type SqlTables, sqlTableNames } from './sql-schema.js';
import type { SqlDataSourceLike, SqlRow } from './sql-types.js';
import { type SqlProgram, type SqlStep, SqlWrites } from './sql-writes.js';
import { type BetterSqliteLike, preparedStatement } from './sqlite-statements.js';
import type { ActionQuery, ActivityQuery, ModelLogQuery, RequestAppend, RequestQuery, Store, StoreBatch, StoreInfo } from '../store.js';

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
  tables: z.strictObject({ requests: tableName, actionLogs: tableName, modelLogs: tableName, activities: tableName }).partial().default({}),
  createTables: z.boolean().default(true),
});

const SUPPORTED = ['postgres', 'better-sqlite3'];
/** How long a write waits for the app's transaction on the one SQLite connection to end before retrying later. */
const SQLITE_WAIT_MS = 5000;
/** How long the first write waits for the app to initialize its DataSource before saying so. */
const INITIALIZE_WAIT_MS = 30_000;
/** Any number, the same in every process: PostgreSQL's advisory lock serializes concurrent table creation. */
const SCHEMA_LOCK = 0x61_63_74_6c;

/**
 * Stores documents in SQL tables of a TypeORM DataSource: PostgreSQL (jsonb, timestamptz) or SQLite through
 * better-sqlite3 (JSON text). It creates its tables itself (unless `createTables: false`) and runs plain SQL
 * only: its writes are never audited (no subscribers run) and need no entities. Each write or append is one
 * transaction, idempotent under retry (a `uid` per row, applied append ids). On SQLite it runs synchronously
 * on the driver's connection once no app transaction is open, so its writes can neither interleave with the
 * app's queries nor be rolled back with them.
 */
export class SqlStore implements Store {
  private readonly source: () => SqlDataSourceLike;
  private readonly options: z.output<typeof schema>;
  private readonly namesGiven: boolean;
  /** The id each document of a batch gets on its first attempt, so that a retry is recognised. */
  private readonly uids = new WeakMap<object, string>();
  private starting: Promise<void> | undefined;
  private ready: { dataSource: SqlDataSourceLike; postgres: boolean; writes: SqlWrites; reads: SqlReads } | undefined;

  constructor(options: SqlStoreOptions) {
    requireObject(options, '{ dataSource }', 'SqlStore options');
    this.options = parseOptions(schema, options, 'SqlStore options');
    const given = this.options.dataSource;
    this.source = typeof given === 'function' ? given : () => given;
    if (typeof given !== 'function') checkType(given);
    this.namesGiven = Object.hasOwn(options, 'prefix') || Object.hasOwn(options, 'tables');
  }

  /** The table names in use. */
  get tables(): Readonly<SqlTables> {
    return sqlTableNames(this.options.prefix, this.options.tables);
  }

  init(info?: StoreInfo): Promise<void> {
    this.starting ??= this.start(info).catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async start(info: StoreInfo | undefined): Promise<void> {
    const dataSource = await this.initialized();
    const postgres = checkType(dataSource) === 'postgres';
    const tables = this.tables;
    if (info && !this.namesGiven && !(await this.hasTable(dataSource, postgres, tables.requests))) {
      await this.warnOfEarlierNames(dataSource, postgres, info);
    }
    if (this.options.createTables) await this.createTables(dataSource, postgres, tables);
    await this.checkColumns(dataSource, postgres, tables);
    const d = postgres ? POSTGRES : SQLITE;
    this.ready = {
      dataSource,
      postgres,
      writes: new SqlWrites(d, tables, (doc) => this.uid(doc)),
      reads: new SqlReads(d, tables, postgres),
    };
  }

  async ping(): Promise<void> {
    const dataSource = this.source();
    if (!dataSource.isInitialized) throw new ActionLogStoreError('SqlStore: the DataSource is not initialized', 0);
    await dataSource.query('SELECT 1');
  }

  async write(batch: StoreBatch): Promise<void> {
    await this.run(this.state().writes.write(batch));
  }

  async append(appends: RequestAppend[]): Promise<void> {
    if (appends.length > 0) await this.run(this.state().writes.append(appends));
  }

  async findRequests(query: RequestQuery = {}): Promise<RequestDocument[]> {
    const { reads } = await this.readable();
    return (await this.select(reads.requests(query))).map((row) => reads.requestDocument(row));
  }

  async findActions(query: ActionQuery = {}): Promise<ActionLogDocument[]> {
    const { reads } = await this.readable();
    return (await this.select(reads.actions(query))).map((row) => reads.actionDocument(row));
  }

  async findModelLogs(query: ModelLogQuery = {}): Promise<ModelLogDocument[]> {
    const { reads } = await this.readable();
    return (await this.select(reads.modelLogs(query))).map((row) => reads.modelLogDocument(row));
  }

  async findActivities(query: ActivityQuery = {}): Promise<ActivityDocument[]> {
    const { reads } = await this.readable();
    return (await this.select(reads.activities(query))).map((row) => reads.activityDocument(row));
  }

  /** The DataSource belongs to the app: nothing to release here. */
  async close(): Promise<void> {}

  private uid(doc: object): string {
    let uid = this.uids.get(doc);
    if (!uid) {
      uid = randomUUID();
      this.uids.set(doc, uid);
    }
    return uid;
  }

  private state(): NonNullable<SqlStore['ready']> {
    if (!this.ready) throw new ActionLogStoreError('SqlStore: init() has not run', 0);
    return this.ready;
  }

  /** Reads work before the logger's first write too: the store starts on the first of either. */
  private async readable(): Promise<NonNullable<SqlStore['ready']>> {
    if (!this.ready) await this.init();
    return this.state();
  }

  private async select(step: SqlStep): Promise<SqlRow[]> {
    return (await this.state().dataSource.query(step.sql, step.params)) as SqlRow[];
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

  private async createTables(dataSource: SqlDataSourceLike, postgres: boolean, tables: SqlTables): Promise<void> {
    const statements = schemaStatements(postgres ? 'postgres' : 'sqlite', tables);
    if (!postgres) {
      for (const sql of statements) await dataSource.query(sql);
      return;
    }
    // Two processes starting at once would race on PostgreSQL's catalog even with IF NOT EXISTS.
    await dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const sql of statements) await manager.query(sql);
    });
  }

  /**
   * Versions before 0.2 named the tables without a prefix. An app upgrading without `prefix: ''` would start
   * writing (and reading) new, empty tables beside its trail: said once, at start.
   */
  private async warnOfEarlierNames(dataSource: SqlDataSourceLike, postgres: boolean, info: StoreInfo): Promise<void> {
    const earlier = await this.columnsOf(dataSource, postgres, TABLES.requests.name);
    if (!earlier.has('uid') || !earlier.has('details')) return;
    const message = `table "${TABLES.requests.name}" holds an earlier actionlog trail: pass prefix: '' to keep writing there`;
    info.warn(new ActionLogConfigError([{ path: 'prefix', message }], 'SqlStore options'));
  }

  private async hasTable(dataSource: SqlDataSourceLike, postgres: boolean, table: string): Promise<boolean> {
    return (await this.columnsOf(dataSource, postgres, table)).size > 0;
  }

  private async columnsOf(dataSource: SqlDataSourceLike, postgres: boolean, table: string): Promise<Set<string>> {
    const rows = (await dataSource.query(
      postgres
        ? 'SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1 AND table_schema = ANY(current_schemas(false))'
        : 'SELECT name FROM pragma_table_info(?)',
      [table],
    )) as Array<{ name: string }>;
    return new Set(rows.map((r) => r.name));
  }

  /** Tables made by hand or by an older version may lack columns: said once, at start, naming them. */
  private async checkColumns(dataSource: SqlDataSourceLike, postgres: boolean, tables: SqlTables): Promise<void> {
    const problems: string[] = [];
    for (const { table, columns } of requiredColumns(tables)) {
      const present = await this.columnsOf(dataSource, postgres, table);
      if (present.size === 0) {
        problems.push(`table ${table} does not exist`);
        continue;
      }
      const missing = columns.filter((c) => !present.has(c));
      if (missing.length > 0) problems.push(`table ${table} lacks ${missing.join(', ')}`);
    }
    if (problems.length === 0) return;
    const fix = this.options.createTables
      ? 'run ActionLogMigrations from actionlog/typeorm to bring older tables up to date'
      : 'create them (createTables: true, or ActionLogMigrations from actionlog/typeorm)';
    throw new ActionLogConfigError([{ path: 'dataSource', message: `${problems.join('; ')}: ${fix}` }], 'SqlStore options');
  }

  private async run(program: SqlProgram): Promise<void> {
    const { dataSource, postgres } = this.state();
    const sqlite = postgres ? undefined : (dataSource.driver as { databaseConnection?: BetterSqliteLike }).databaseConnection;
    if (!sqlite) {
      await dataSource.transaction(async (manager) => {
        for (let step = program.next(); !step.done;) {
          const rows = await manager.query(step.value.sql, step.value.params);
          step = program.next(Array.isArray(rows) ? (rows as SqlRow[]) : []);
        }
      });
      return;
    }
    // One connection for everything: inside an open app transaction our rows would share its fate.
    const deadline = Date.now() + SQLITE_WAIT_MS;
    while (sqlite.inTransaction) {
      if (Date.now() > deadline)
        throw new ActionLogStoreError('SqlStore: the SQLite connection stayed inside a transaction; will retry', 0);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    sqlite.transaction(() => {
      for (let step = program.next(); !step.done;) {
        const statement = preparedStatement(sqlite, step.value.sql);
        const rows = statement.reader ? statement.all(...step.value.params) : (statement.run(...step.value.params), []);
        step = program.next(rows);
      }
    })();
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
