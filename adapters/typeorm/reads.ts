import { ActionLogError } from 'actionlog';
import { betterSqliteOf, finishesWithin, preparedStatement } from 'actionlog/adapter-kit';
import type { DataSource, EntityMetadata, ObjectLiteral, QueryRunner, SelectQueryBuilder } from 'typeorm';
import { hydrate, idMapOf, selectList } from './entity-state.js';
import { readSafely } from './savepoints.js';
import { dataSourceOf, mainAliasOf, metadataOf, type QueryWriteRecorder, type WhereKind, type WriteBuilder } from './write-builder.js';

type ColumnMetadata = EntityMetadata['columns'][number];

/** The internals of a write builder the raw pre-read uses (public in JavaScript, protected in TypeORM's types). */
interface BuilderInternals {
  createWhereExpression(): string;
  getTableName(tablePath: string): string;
  getMainTableName(): string;
  replacePropertyNamesForTheWholeQuery(sql: string): string;
}

/**
 * The rows a where-write will touch, read with the write's own WHERE as plain SQL (every stored column): TypeORM's query building
 * costs more than the read itself. Falls back to a query-builder read if the builder does not lend itself.
 */
export async function readTargets(
  qb: WriteBuilder,
  kind: WhereKind,
  runner: QueryRunner | undefined,
  take: number,
  lock: boolean,
): Promise<ObjectLiteral[]> {
  const metadata = metadataOf(qb);
  let sql: string;
  let params: unknown[];
  const sqlite = betterSqliteOf(dataSourceOf(qb));
  try {
    const b = qb as unknown as BuilderInternals;
    const table = b.getTableName(b.getMainTableName());
    let where = b.createWhereExpression();
    const deleted = metadata.deleteDateColumn ? qb.escape(metadata.deleteDateColumn.databaseName) : undefined;
    if (deleted && (kind === 'soft-delete' || kind === 'restore')) {
      const condition = `${deleted} IS ${kind === 'soft-delete' ? 'NULL' : 'NOT NULL'}`;
      where = where ? `${where} AND ${condition}` : ` WHERE ${condition}`;
    }
    const query = withColumnNames(
      b,
      metadata,
      mainAliasOf(qb).name,
      `SELECT ${selectList(metadata, (name) => qb.escape(name))} FROM ${table}${where} LIMIT ${take}${lock && runner?.isTransactionActive ? ' FOR UPDATE' : ''}`,
    );
    [sql, params] = dataSourceOf(qb).driver.escapeQueryWithParameters(
      query,
      sqlite ? boundIntegers(qb.getParameters()) : qb.getParameters(),
    );
  } catch {
    return readTargetsWithBuilder(qb, kind, runner, take, lock);
  }
  // better-sqlite3 is read directly, synchronously, on the one connection (inside the app's transaction when
  // one is open), through a statement prepared once.
  const rows = sqlite
    ? preparedStatement(sqlite, sql).all(...params)
    : ((await (runner ?? dataSourceOf(qb).createQueryRunner()).query(sql, params)) as ObjectLiteral[]);
  return rows.map((raw) => hydrate(metadata, raw));
}

const namedQueries = new WeakMap<EntityMetadata, Map<string, string>>();

/**
 * The query with property paths replaced by column names, as TypeORM does for the write itself. The text
 * holds parameter placeholders, not values, so a few shapes per entity recur: each is worked out once.
 */
function withColumnNames(b: BuilderInternals, metadata: EntityMetadata, alias: string, sql: string): string {
  let named = namedQueries.get(metadata);
  if (!named) {
    named = new Map();
    namedQueries.set(metadata, named);
  }
  // Which names are replaced depends on the builder's alias.
  const key = `${alias}\n${sql}`;
  let out = named.get(key);
  if (out === undefined) {
    out = b.replacePropertyNamesForTheWholeQuery(sql);
    if (named.size >= 200) named.clear();
    named.set(key, out);
  }
  return out;
}

/**
 * TypeORM's SQLite driver writes numbers into the SQL text, so every id would be a statement of its own to
 * prepare. Integers passed as BigInt are bound instead, and compare exactly as the literal would.
 */
function boundIntegers(parameters: ObjectLiteral): ObjectLiteral {
  const out: ObjectLiteral = {};
  for (const [key, value] of Object.entries(parameters) as Array<[string, unknown]>) out[key] = boundInteger(value);
  return out;
}

/** An integer as a BigInt, which better-sqlite3 binds as an integer (a JavaScript number is bound as a REAL). */
const boundInteger = (value: unknown): unknown => (Number.isSafeInteger(value) ? BigInt(value as number) : value);

async function readTargetsWithBuilder(
  qb: WriteBuilder,
  kind: WhereKind,
  runner: QueryRunner | undefined,
  take: number,
  lock: boolean,
): Promise<ObjectLiteral[]> {
  const metadata = metadataOf(qb);
  const alias = mainAliasOf(qb).name;
  const select = qb.clone().select(alias);
  if (runner) select.setQueryRunner(runner);
  // An UPDATE or DELETE reaches soft-deleted rows too; soft-delete only live ones; restore only deleted ones.
  if (kind !== 'soft-delete') select.withDeleted();
  if (kind === 'restore' && metadata.deleteDateColumn)
    select.andWhere(`${select.escape(alias)}.${select.escape(metadata.deleteDateColumn.databaseName)} IS NOT NULL`);
  select.expressionMap.orderBys = {};
  select.limit(take);
  if (lock && runner?.isTransactionActive) select.setLock('pessimistic_write');
  return select.getMany();
}

/**
 * Rows as stored, read by primary key, every stored column (foreign keys included, soft-deleted rows too), and
 * hydrated as the pre-read is: every path records a row in the same shape.
 */
export async function readByIds(
  metadata: EntityMetadata,
  rows: ObjectLiteral[],
  runner: QueryRunner | undefined,
): Promise<ObjectLiteral[]> {
  const ids = idsOf(metadata, rows);
  if (ids.length === 0) return [];
  return readByIdsOnSqlite(metadata, ids) ?? selectRows(metadata, runner, (select) => select.whereInIds(ids));
}

/**
 * How long a read of rows as last committed may take (a connection of a busy pool, a lock), at most: less when the
 * server would end the transaction sooner (see `sessionOf`).
 */
const COMMITTED_READ_MS = 10_000;

/**
 * PostgreSQL: rows a statement of `runner`'s open transaction has just written, as last committed: read on another
 * connection of the primary, outside that transaction, which holds their locks, so no one has committed a change to
 * them since (they are as they were just before the statement). Rows not found, or not read in time (10 s, or half
 * what the server lets the transaction idle or last: a lock, a pool whose connections all stay busy) or at all (a
 * pool of one), are reported (`what` names them after their count) and left out.
 */
export async function readCommitted(
  metadata: EntityMetadata,
  rows: ObjectLiteral[],
  runner: QueryRunner,
  savepoints: boolean,
  recorder: QueryWriteRecorder,
  what: string,
): Promise<ObjectLiteral[]> {
  const ids = idsOf(metadata, rows);
  if (ids.length === 0) return [];
  const session = await readSafely(runner, savepoints, recorder, () => sessionOf(runner));
  if (session === undefined) return [];
  let found: ObjectLiteral[];
  try {
    // Waiting would hold this transaction's locks for the whole time limit, for nothing.
    if (poolOfOne(metadata.dataSource)) throw new Error('the pool has one connection, held by this transaction');
    const why = session.waitMs < COMMITTED_READ_MS ? ', half of what the server lets the transaction idle or last' : '';
    if (session.waitMs < MIN_WAIT_MS) throw new Error(`no time to wait for it${why}`);
    const reading = readOutside(metadata, ids, session);
    if (!(await finishesWithin(reading, session.waitMs))) {
      reading.catch(() => {});
      throw new Error(`not read within ${session.waitMs} ms${why} (no free connection in the pool, or a lock)`);
    }
    found = await reading;
  } catch (error) {
    const message = `actionlog could not read the states before of ${ids.length} ${what}: they are not recorded (${(error as Error).message})`;
    recorder.report(new ActionLogError(message, { cause: error }));
    return [];
  }
  if (found.length < ids.length)
    recorder.report(
      new ActionLogError(`actionlog did not find the states before of ${ids.length - found.length} ${what}: they are not recorded`),
    );
  return found;
}

/** Below this, a read elsewhere is not tried: it would be given up as it starts. */
const MIN_WAIT_MS = 50;

/** What a read outside the transaction takes from it: where to read, and how long it may take. */
interface Session {
  searchPath: string;
  waitMs: number;
}

/**
 * Of the transaction's session: its search_path (a tenant's schema may be set there: the rows are read where it
 * reads), and how long to wait for a read elsewhere: within half of what the server lets the session idle in the
 * transaction (`idle_in_transaction_session_timeout`) and of what is left of `transaction_timeout` (PostgreSQL 17+),
 * or the server would end the caller's transaction while actionlog waits.
 */
async function sessionOf(runner: QueryRunner): Promise<Session> {
  const [row] = (await runner.query(
    `SELECT current_setting('search_path') AS "path",
      (SELECT setting::float8 FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout') AS "idle",
      (SELECT setting::float8 FROM pg_settings WHERE name = 'transaction_timeout') AS "limit",
      EXTRACT(EPOCH FROM clock_timestamp() - now())::float8 * 1000 AS "elapsed"`,
  )) as Array<{ path: string; idle: number | null; limit: number | null; elapsed: number }>;
  const limits = [COMMITTED_READ_MS];
  if (row?.idle) limits.push(row.idle / 2);
  // Counted from the transaction's start, unless set within it (then from the SET): past it, what is left is unknown.
  if (row?.limit) limits.push(Math.max(0, row.limit - row.elapsed) / 2);
  return { searchPath: row?.path ?? '', waitMs: Math.floor(Math.min(...limits)) };
}

/**
 * Whether the primary's pool is of one connection (node-postgres's `max`), which this transaction holds: none
 * could come before it ends. A larger pool all of whose connections are busy gives one back when a query ends.
 */
function poolOfOne(dataSource: DataSource): boolean {
  const max = (dataSource.driver as { master?: { options?: { max?: unknown } } }).master?.options?.max;
  return typeof max === 'number' && max <= 1;
}

/**
 * Rows by primary key on a connection of the primary of their own, in a transaction with the session's search_path,
 * ended by the server past its wait (a read given up on must not hold its connection while a lock stays).
 */
async function readOutside(metadata: EntityMetadata, ids: ObjectLiteral[], session: Session): Promise<ObjectLiteral[]> {
  const runner = metadata.dataSource.createQueryRunner('master');
  try {
    await runner.startTransaction();
    const limit = `${session.waitMs}ms`;
    await runner.query(
      `SELECT set_config('search_path', $1, true), set_config('lock_timeout', $2, true), set_config('statement_timeout', $2, true)`,
      [session.searchPath, limit],
    );
    const rows = await selectRows(metadata, runner, (select) => select.whereInIds(ids));
    await runner.commitTransaction();
    return rows;
  } finally {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => {});
    await runner.release();
  }
}

/** The primary keys of rows, as `whereInIds` takes them; rows without one left out. */
export function idsOf(metadata: EntityMetadata, rows: ObjectLiteral[]): ObjectLiteral[] {
  return rows.map((r) => idMapOf(metadata, r)).filter((id): id is ObjectLiteral => id !== undefined);
}

/**
 * better-sqlite3: rows by primary key read directly, on the one connection, through a statement prepared once per
 * entity and number of rows (building the query through TypeORM costs more than the read). Undefined, for the query
 * builder's read, where a key is neither text nor an integer or has a transformer (its stored form is then
 * TypeORM's to make), the table lives in another database than the connection's main one, or the statement fails.
 */
function readByIdsOnSqlite(metadata: EntityMetadata, ids: ObjectLiteral[]): ObjectLiteral[] | undefined {
  const sqlite = betterSqliteOf(metadata.dataSource);
  if (!sqlite || metadata.tablePath.includes('.')) return undefined;
  const params: unknown[] = [];
  for (const id of ids) {
    for (const column of metadata.primaryColumns) {
      const value: unknown = column.getEntityValue(id);
      if (column.transformer) return undefined;
      if (!Number.isSafeInteger(value) && typeof value !== 'string') return undefined;
      params.push(boundInteger(value));
    }
  }
  let rows: ObjectLiteral[];
  try {
    rows = preparedStatement(sqlite, byIdsQuery(metadata, ids.length)).all(...params);
  } catch {
    return undefined;
  }
  return rows.map((raw) => hydrate(metadata, raw));
}

const byIdsQueries = new WeakMap<EntityMetadata, Map<number, string>>();

/** `SELECT <every stored column> FROM <table> WHERE <key> IN (?, ...)` (or one `(a = ? AND b = ?)` per row). */
function byIdsQuery(metadata: EntityMetadata, count: number): string {
  let queries = byIdsQueries.get(metadata);
  if (!queries) {
    queries = new Map();
    byIdsQueries.set(metadata, queries);
  }
  let sql = queries.get(count);
  if (sql === undefined) {
    const escape = (name: string) => metadata.dataSource.driver.escape(name);
    const keys = metadata.primaryColumns.map((c) => escape(c.databaseName));
    const where =
      keys.length === 1
        ? `${keys[0]} IN (${Array.from({ length: count }, () => '?').join(', ')})`
        : Array.from({ length: count }, () => `(${keys.map((k) => `${k} = ?`).join(' AND ')})`).join(' OR ');
    sql = `SELECT ${selectList(metadata, escape)} FROM ${escape(metadata.tablePath)} WHERE ${where}`;
    if (queries.size >= 64) queries.clear();
    queries.set(count, sql);
  }
  return sql;
}

/**
 * Rows as stored whose `columns` hold the values of one of `valueSets` (an upsert's conflict target); with `lock`, in
 * a transaction, locked as the write will lock them (`FOR UPDATE`), so none changes between this read and the write.
 */
export async function readByValues(
  metadata: EntityMetadata,
  columns: ColumnMetadata[],
  valueSets: ObjectLiteral[],
  runner: QueryRunner | undefined,
  lock = false,
): Promise<ObjectLiteral[]> {
  const wheres = valueSets
    .map((values) => {
      const where: ObjectLiteral = {};
      for (const column of columns) {
        const value: unknown = column.getEntityValue(values);
        if (value === undefined) return undefined;
        column.setEntityValue(where, value);
      }
      return where;
    })
    .filter((w): w is ObjectLiteral => w !== undefined);
  if (wheres.length === 0) return [];
  return selectRows(metadata, runner, (select) => {
    select.where(wheres);
    if (lock && runner?.isTransactionActive) select.setLock('pessimistic_write');
  });
}

async function selectRows(
  metadata: EntityMetadata,
  runner: QueryRunner | undefined,
  where: (select: SelectQueryBuilder<ObjectLiteral>) => unknown,
): Promise<ObjectLiteral[]> {
  const manager = runner?.manager ?? metadata.dataSource.manager;
  const select = manager.createQueryBuilder().from(metadata.target, 'row').withDeleted();
  select.select(selectList(metadata, (name) => select.escape(name), 'row'));
  where(select);
  const raws = await select.getRawMany<ObjectLiteral>();
  return raws.map((raw) => hydrate(metadata, raw));
}
