import { type BetterSqliteLike, type ModelChange, preparedStatement, type UserRef } from 'actionlog';
import { DeleteQueryBuilder, type EntityMetadata, InsertQueryBuilder, type InsertResult, type ObjectLiteral, type QueryBuilder, type QueryRunner, UpdateQueryBuilder, type DataSource } from 'typeorm';
// Not exported from the package root.
import { SoftDeleteQueryBuilder } from 'typeorm/query-builder/SoftDeleteQueryBuilder.js';
import { hydrate, idMapOf, isSqliteFamily, modelIdOf, plainState, predictedState } from './entity-state.js';
import { canReturnRows, runReturningRows } from './returning-writes.js';
import { insertStamps, isStamped, queryUpdateStamps, softDeleteStamps } from './stamps.js';

/** Marks ActionLogSubscriber instances in `dataSource.subscribers`. */
export const SUBSCRIBER = Symbol.for('actionlog.typeorm.subscriber');
const PATCHED = Symbol.for('actionlog.typeorm.patched-execute');

/** What the hooks need from the subscriber. */
export interface QueryWriteRecorder {
  readonly maxDocumentsPerQuery: number;
  readonly queryWrites: 'auto' | 'readBefore';
  audits(metadata: EntityMetadata): boolean;
  change(metadata: EntityMetadata, fields: Pick<ModelChange, 'action' | 'model_id' | 'old_object' | 'new_object'> & Partial<ModelChange>): ModelChange;
  record(change: ModelChange, runner: QueryRunner | undefined): void;
  report(error: unknown): void;
  currentUser(): UserRef | null;
}

type AnyBuilder = QueryBuilder<ObjectLiteral> & {
  expressionMap: QueryBuilder<ObjectLiteral>['expressionMap'] & {
    onUpdate?: { conflict?: string | string[]; overwrite?: string[] };
    onIgnore?: boolean;
    callListeners: boolean;
  };
  execute(): Promise<unknown>;
  getValueSets?(): ObjectLiteral[];
};

type Kind = 'update' | 'delete' | 'soft-delete' | 'restore' | 'insert';

/** Values objects a query hook records itself, so the subscriber's after-events skip them. */
const handled = new WeakSet<object>();

export function handledByQueryHook(entity: unknown): boolean {
  return entity !== null && typeof entity === 'object' && handled.has(entity);
}

/**
 * TypeORM gives subscribers no rows for query-level writes (`repository.update/delete/softDelete/restore`,
 * `insert`, `upsert`, and their QueryBuilder forms). These wrappers of `execute` read the affected rows on the
 * same query runner before the write and again after it. Installed once per process; they do nothing unless
 * the data source has an ActionLogSubscriber and the builder calls listeners.
 */
export function installQueryWriteHooks(): void {
  for (const cls of [UpdateQueryBuilder, DeleteQueryBuilder, SoftDeleteQueryBuilder, InsertQueryBuilder] as Array<{ prototype: object }>) {
    const proto = cls.prototype as { execute(this: AnyBuilder): Promise<unknown>; [PATCHED]?: boolean };
    if (proto[PATCHED]) continue;
    const original = proto.execute;
    proto.execute = function execute(this: AnyBuilder) {
      const recorder = recorderFor(this);
      return recorder ? captureQueryWrite(this, recorder, () => original.call(this)) : original.call(this);
    };
    proto[PATCHED] = true;
  }
}

function dataSourceOf(qb: AnyBuilder): DataSource {
  return (qb as unknown as { dataSource?: DataSource; connection: DataSource }).dataSource ?? qb.connection;
}

function recorderFor(qb: AnyBuilder): QueryWriteRecorder | undefined {
  const map = qb.expressionMap;
  if (map.callListeners !== true || !map.mainAlias?.hasMetadata) return undefined;
  const recorder = dataSourceOf(qb).subscribers.find((s) => (s as { [SUBSCRIBER]?: boolean })[SUBSCRIBER]) as QueryWriteRecorder | undefined;
  return recorder?.audits(map.mainAlias.metadata) ? recorder : undefined;
}

function kindOf(qb: AnyBuilder): Kind {
  const type = qb.expressionMap.queryType;
  if (type === 'insert' || type === 'update' || type === 'delete' || type === 'soft-delete' || type === 'restore') return type;
  throw new Error(`unexpected query type ${type}`);
}

async function captureQueryWrite(qb: AnyBuilder, recorder: QueryWriteRecorder, run: () => Promise<unknown>): Promise<unknown> {
  const dataSource = dataSourceOf(qb);
  const sqlite = isSqliteFamily(dataSource.options.type);
  // Outside a transaction, reading before and after the write is only exact inside one of our own
  // (SQLite has a single shared connection, where this is neither needed nor possible).
  const given = (qb as unknown as { queryRunner?: QueryRunner }).queryRunner;
  if (await returnsRows(qb, recorder, given)) return captureReturned(qb, kindOf(qb) as Exclude<Kind, 'insert'>, recorder, given, run);
  let runner = given;
  let created = false;
  let started = false;
  if (!sqlite && !given?.isTransactionActive) {
    if (!runner) {
      runner = dataSource.createQueryRunner();
      await runner.connect();
      created = true;
      qb.setQueryRunner(runner);
    }
    await runner.startTransaction();
    started = true;
  }
  runner ??= dataSource.createQueryRunner(); // SQLite: its one shared runner
  try {
    const kind = kindOf(qb);
    const result = kind === 'insert' ? await captureInsert(qb, recorder, runner, !sqlite, run) : await captureWhereWrite(qb, kind, recorder, runner, !sqlite, started, run);
    if (started && runner.isTransactionActive) await runner.commitTransaction();
    return result;
  } catch (error) {
    if (started && runner.isTransactionActive) await runner.rollbackTransaction().catch(() => {});
    throw error;
  } finally {
    if (created) {
      (qb as unknown as { queryRunner: QueryRunner | undefined }).queryRunner = given;
      await runner.release();
    }
  }
}

/** Whether the write can report the rows it changes itself (PostgreSQL 18+), sparing the read before it. */
async function returnsRows(qb: AnyBuilder, recorder: QueryWriteRecorder, runner: QueryRunner | undefined): Promise<boolean> {
  if (recorder.queryWrites !== 'auto') return false;
  const kind = kindOf(qb);
  if (kind === 'insert') return false;
  // Soft-delete stamps are written after the statement: the state to record is read after them.
  if ((kind === 'soft-delete' || kind === 'restore') && isStamped(qb.expressionMap.mainAlias!.metadata)) return false;
  try {
    return await canReturnRows(qb, dataSourceOf(qb), runner);
  } catch (error) {
    recorder.report(error);
    return false;
  }
}

async function captureReturned(qb: AnyBuilder, kind: Exclude<Kind, 'insert'>, recorder: QueryWriteRecorder, given: QueryRunner | undefined, run: () => Promise<unknown>): Promise<unknown> {
  const metadata = qb.expressionMap.mainAlias!.metadata;
  prepareValues(qb, kind, recorder);
  const runner = given ?? dataSourceOf(qb).createQueryRunner();
  if (!given) qb.setQueryRunner(runner);
  try {
    const { result, count, rows } = await runReturningRows(qb, kind === 'delete', runner, recorder.maxDocumentsPerQuery + 1, run, (error) => recorder.report(error));
    try {
      if (count > recorder.maxDocumentsPerQuery) {
        recordSummary(qb, metadata, ACTION[kind], recorder, runner, count);
        return result;
      }
      const deleted = metadata.deleteDateColumn;
      for (const { old, next } of rows) {
        // Soft delete and restore change only the rows not yet in the state they bring about.
        if (deleted && kind === 'soft-delete' && deleted.getEntityValue(old) != null) continue;
        if (deleted && kind === 'restore' && deleted.getEntityValue(old) == null) continue;
        const before = plainState(metadata, old);
        const after = next && plainState(metadata, next);
        if (kind === 'update' && JSON.stringify(before) === JSON.stringify(after)) continue;
        recorder.record(recorder.change(metadata, { action: ACTION[kind], model_id: modelIdOf(metadata, old), old_object: before, new_object: after }), runner);
      }
    } catch (error) {
      recorder.report(error);
    }
    return result;
  } finally {
    if (!given) {
      (qb as unknown as { queryRunner: QueryRunner | undefined }).queryRunner = undefined;
      await runner.release();
    }
  }
}

/** Marks the values object as recorded here (the subscriber's after-events skip it) and stamps an update. */
function prepareValues(qb: AnyBuilder, kind: Exclude<Kind, 'insert'>, recorder: QueryWriteRecorder): void {
  const values = qb.expressionMap.valuesSet;
  if (!values || typeof values !== 'object') return;
  handled.add(values);
  if (kind === 'update' && isStamped(qb.expressionMap.mainAlias!.metadata) && !Array.isArray(values)) {
    queryUpdateStamps(values, (name) => qb.escape(name), recorder.currentUser());
  }
}

/**
 * Runs a read that must not break the caller's transaction: on PostgreSQL a failed statement aborts the whole
 * transaction, so the read runs inside a savepoint. A failed read is reported and yields undefined.
 */
async function safely<T>(runner: QueryRunner | undefined, savepoint: boolean, recorder: QueryWriteRecorder, read: () => Promise<T>): Promise<T | undefined> {
  const guarded = savepoint && runner?.isTransactionActive;
  try {
    if (guarded) await runner!.query('SAVEPOINT actionlog_read');
    const value = await read();
    if (guarded) await runner!.query('RELEASE SAVEPOINT actionlog_read');
    return value;
  } catch (error) {
    if (guarded) await runner!.query('ROLLBACK TO SAVEPOINT actionlog_read').catch(() => {});
    recorder.report(error);
    return undefined;
  }
}

/**
 * The read before a write in a transaction of actionlog's own needs no savepoint: should it fail, the
 * transaction is rolled back, and the write runs on its own, unrecorded (the failure is reported).
 */
async function readOrStepAside<T>(runner: QueryRunner, recorder: QueryWriteRecorder, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    recorder.report(error);
    await runner.rollbackTransaction().catch(() => {});
    return undefined;
  }
}

const ACTION: Record<Exclude<Kind, 'insert'>, ModelChange['action']> = {
  update: 'Updated',
  delete: 'Deleted',
  'soft-delete': 'SoftDeleted',
  restore: 'Restored',
};

async function captureWhereWrite(
  qb: AnyBuilder,
  kind: Exclude<Kind, 'insert'>,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  savepoints: boolean,
  ownTransaction: boolean,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const metadata = qb.expressionMap.mainAlias!.metadata;
  const limit = recorder.maxDocumentsPerQuery;
  const stamped = isStamped(metadata);
  const values = qb.expressionMap.valuesSet;
  prepareValues(qb, kind, recorder);
  const read = () => readTargets(qb, kind, runner, limit + 1, savepoints);
  const before = ownTransaction ? await readOrStepAside(runner!, recorder, read) : await safely(runner, savepoints, recorder, read);
  const result = (await run()) as { affected?: number };
  if (!before) return result;
  if (stamped && (kind === 'soft-delete' || kind === 'restore')) {
    const ids = before.map((row) => idMapOf(metadata, row)).filter((id): id is ObjectLiteral => id !== undefined);
    await safely(runner, savepoints, recorder, () => softDeleteStamps(runner, metadata, ids, kind === 'soft-delete', recorder.currentUser()));
  }
  if (before.length > limit) {
    recordSummary(qb, metadata, ACTION[kind], recorder, runner, result.affected ?? before.length);
    return result;
  }
  // The new state is computed from the update where that is exact, read back by id where it is not.
  const olds = before.map((row) => plainState(metadata, row)!);
  const predicted =
    kind === 'update' && values && typeof values === 'object' && !Array.isArray(values)
      ? olds.map((old) => predictedState(metadata, old, values))
      : olds.map(() => undefined);
  const mustRead = kind !== 'delete' && predicted.some((p) => p === undefined);
  const after = mustRead ? ((await safely(runner, savepoints, recorder, () => readByIds(metadata, before, runner))) ?? []) : [];
  const afterById = new Map(after.map((row) => [modelIdOf(metadata, row), row]));
  for (const [i, row] of before.entries()) {
    const id = modelIdOf(metadata, row);
    const old = olds[i]!;
    const next = kind === 'delete' ? null : (predicted[i] ?? plainState(metadata, afterById.get(id) ?? null));
    // A row the write left as it was (e.g. an update to the same values) is not a change.
    if (kind === 'update' && next && JSON.stringify(old) === JSON.stringify(next)) continue;
    recorder.record(recorder.change(metadata, { action: ACTION[kind], model_id: id, old_object: old, new_object: next }), runner);
  }
  return result;
}

/** The internals of a write builder the raw pre-read uses (public in JavaScript, protected in TypeORM's types). */
interface BuilderInternals {
  createWhereExpression(): string;
  getTableName(tablePath: string): string;
  getMainTableName(): string;
  replacePropertyNamesForTheWholeQuery(sql: string): string;
}

/**
 * The rows a where-write will touch, read with the write's own WHERE as plain SQL: TypeORM's query building
 * costs more than the read itself. Falls back to a query-builder read if the builder does not lend itself.
 */
async function readTargets(qb: AnyBuilder, kind: Exclude<Kind, 'insert'>, runner: QueryRunner | undefined, take: number, lock: boolean): Promise<ObjectLiteral[]> {
  const metadata = qb.expressionMap.mainAlias!.metadata;
  let sql: string;
  let params: unknown[];
  const driver = dataSourceOf(qb).driver as { options: { type: string }; databaseConnection?: unknown };
  const sqlite = driver.options.type === 'better-sqlite3' ? (driver.databaseConnection as BetterSqliteLike | undefined) : undefined;
  try {
    const b = qb as unknown as BuilderInternals;
    const table = b.getTableName(b.getMainTableName());
    let where = b.createWhereExpression();
    const deleted = metadata.deleteDateColumn ? qb.escape(metadata.deleteDateColumn.databaseName) : undefined;
    if (deleted && (kind === 'soft-delete' || kind === 'restore')) {
      const condition = `${deleted} IS ${kind === 'soft-delete' ? 'NULL' : 'NOT NULL'}`;
      where = where ? `${where} AND ${condition}` : ` WHERE ${condition}`;
    }
    const query = withColumnNames(b, metadata, qb.expressionMap.mainAlias!.name, `SELECT * FROM ${table}${where} LIMIT ${take}${lock && runner?.isTransactionActive ? ' FOR UPDATE' : ''}`);
    [sql, params] = dataSourceOf(qb).driver.escapeQueryWithParameters(query, sqlite ? boundIntegers(qb.getParameters()) : qb.getParameters());
  } catch {
    return readTargetsWithBuilder(qb, kind, runner, take, lock);
  }
  // better-sqlite3 is read directly, synchronously, on the one connection (inside the app's transaction when
  // one is open), through a statement prepared once.
  const rows: ObjectLiteral[] = sqlite ? preparedStatement(sqlite, sql).all(...params) : await (runner ?? dataSourceOf(qb).createQueryRunner()).query(sql, params);
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
  for (const [key, value] of Object.entries(parameters)) out[key] = Number.isSafeInteger(value) ? BigInt(value as number) : value;
  return out;
}

async function readTargetsWithBuilder(qb: AnyBuilder, kind: Exclude<Kind, 'insert'>, runner: QueryRunner | undefined, take: number, lock: boolean): Promise<ObjectLiteral[]> {
  const metadata = qb.expressionMap.mainAlias!.metadata;
  const alias = qb.expressionMap.mainAlias!.name;
  const select = qb.clone().select(alias);
  if (runner) select.setQueryRunner(runner);
  // An UPDATE or DELETE reaches soft-deleted rows too; soft-delete only live ones; restore only deleted ones.
  if (kind !== 'soft-delete') select.withDeleted();
  if (kind === 'restore' && metadata.deleteDateColumn) select.andWhere(`${select.escape(alias)}.${select.escape(metadata.deleteDateColumn.databaseName)} IS NOT NULL`);
  select.expressionMap.orderBys = {};
  select.limit(take);
  if (lock && runner?.isTransactionActive) select.setLock('pessimistic_write');
  return select.getMany();
}

async function readByIds(metadata: EntityMetadata, rows: ObjectLiteral[], runner: QueryRunner | undefined): Promise<ObjectLiteral[]> {
  const ids = rows.map((r) => idMapOf(metadata, r)).filter((id): id is ObjectLiteral => id !== undefined);
  if (ids.length === 0) return [];
  const manager = runner?.manager ?? metadata.connection.manager;
  return manager.createQueryBuilder(metadata.target, 'row').withDeleted().whereInIds(ids).getMany();
}

function recordSummary(qb: AnyBuilder, metadata: EntityMetadata, action: ModelChange['action'], recorder: QueryWriteRecorder, runner: QueryRunner | undefined, matched: number): void {
  let filter: unknown;
  try {
    const [sql, parameters] = qb.getQueryAndParameters();
    filter = { sql, parameters };
  } catch {
    filter = null;
  }
  recorder.record(
    recorder.change(metadata, {
      action,
      model_id: null,
      old_object: null,
      new_object: null,
      query: { filter, update: qb.expressionMap.valuesSet ?? null, matched },
      truncated: true,
    }),
    runner,
  );
}

async function captureInsert(qb: AnyBuilder, recorder: QueryWriteRecorder, runner: QueryRunner | undefined, savepoints: boolean, run: () => Promise<unknown>): Promise<unknown> {
  const metadata = qb.expressionMap.mainAlias!.metadata;
  const valueSets = (qb.getValueSets?.() ?? []) as ObjectLiteral[];
  const stamped = isStamped(metadata);
  for (const values of valueSets) {
    handled.add(values);
    if (stamped) insertStamps(values, recorder.currentUser());
  }
  if (valueSets.length > recorder.maxDocumentsPerQuery) {
    const result = await run();
    recordSummary(qb, metadata, 'Created', recorder, runner, valueSets.length);
    return result;
  }
  const conflict = conflictColumns(qb, metadata);
  const keyOf = (row: ObjectLiteral) => JSON.stringify(conflict!.map((c) => c.getEntityValue(row) ?? null));
  const before = conflict ? await safely(runner, savepoints, recorder, () => readByValues(metadata, conflict, valueSets, runner)) : [];
  const result = (await run()) as InsertResult;
  if (!before) return result;
  let after: ObjectLiteral[] | undefined;
  if (conflict) {
    after = await safely(runner, savepoints, recorder, () => readByValues(metadata, conflict, valueSets, runner));
  } else {
    const ids = result.identifiers.filter((id) => id && Object.values(id).some((v) => v !== undefined));
    after = await safely(runner, savepoints, recorder, () => readByIds(metadata, ids, runner));
  }
  const beforeByKey = new Map(before.map((row) => [keyOf(row), row]));
  for (const row of after ?? []) {
    const previous = conflict ? beforeByKey.get(keyOf(row)) : undefined;
    const next = plainState(metadata, row);
    if (previous) {
      const old = plainState(metadata, previous);
      if (JSON.stringify(old) === JSON.stringify(next)) continue;
      recorder.record(recorder.change(metadata, { action: 'Updated', model_id: modelIdOf(metadata, row), old_object: old, new_object: next }), runner);
    } else {
      recorder.record(recorder.change(metadata, { action: 'Created', model_id: modelIdOf(metadata, row), old_object: null, new_object: next }), runner);
    }
  }
  return result;
}

/** The columns an upsert resolves conflicts on, or undefined for a plain insert. */
function conflictColumns(qb: AnyBuilder, metadata: EntityMetadata) {
  const onUpdate = qb.expressionMap.onUpdate;
  if (!onUpdate && !qb.expressionMap.onIgnore) return undefined;
  const names = onUpdate?.conflict ? (Array.isArray(onUpdate.conflict) ? onUpdate.conflict : [onUpdate.conflict]) : [];
  const columns = names.map((n) => metadata.findColumnWithDatabaseName(n)).filter((c) => c !== undefined);
  return columns.length > 0 ? columns : metadata.primaryColumns;
}

async function readByValues(
  metadata: EntityMetadata,
  columns: NonNullable<ReturnType<typeof conflictColumns>>,
  valueSets: ObjectLiteral[],
  runner: QueryRunner | undefined,
): Promise<ObjectLiteral[]> {
  const wheres = valueSets
    .map((values) => {
      const where: ObjectLiteral = {};
      for (const column of columns) {
        const value = column.getEntityValue(values);
        if (value === undefined) return undefined;
        column.setEntityValue(where, value);
      }
      return where;
    })
    .filter((w): w is ObjectLiteral => w !== undefined);
  if (wheres.length === 0) return [];
  const manager = runner?.manager ?? metadata.connection.manager;
  return manager.find(metadata.target, { where: wheres, withDeleted: true });
}
