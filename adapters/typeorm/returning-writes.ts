/*
 * PostgreSQL returns the rows an UPDATE or DELETE changes (`RETURNING`): from 18 on with their old and new values
 * (`RETURNING OLD/NEW`); on any version, their primary keys.
 */

import type { DataSource, EntityMetadata, ObjectLiteral, QueryRunner } from 'typeorm';
import { hydrate, storedColumns } from './entity-state.js';
import { interceptStatement, uniqueMarker } from './patches.js';
import { inFailedTransaction } from './savepoints.js';
import { dataSourceOf, metadataOf, type QueryWriteRecorder, type WriteBuilder } from './write-builder.js';

export interface ReturnedRows {
  /** What the write returns to its caller, as without actionlog. */
  result: unknown;
  /** How many rows the statement changed (all of them, also past `take`). */
  count: number;
  /** Up to `take` changed rows, each as it was and as it became (null when deleted). */
  rows: Array<{ old: ObjectLiteral; next: ObjectLiteral | null }>;
}

// Names the statement among those the builder runs (its SQL cannot be known in advance: building it twice can
// add a condition twice). An upsert's RETURNING starts with it too (see inserted-keys.ts).
export const OLD_AND_NEW = 'WITH (OLD AS actionlog_old, NEW AS actionlog_new)';
/** Where a RETURNING of the primary keys alone starts (any PostgreSQL): a comment, as SQL reads it. */
const KEYS = '/* actionlog: returned keys */';

/** Whether the database returns the old values of the rows a statement changes: PostgreSQL 18 or later. */
export function returnsOldValues(dataSource: DataSource): boolean {
  const driver = dataSource.driver as { options: { type: string }; version?: string };
  return driver.options.type === 'postgres' && Number.parseFloat(driver.version ?? '0') >= 18;
}

/** What the write's table lets through, asked once per table (see `askOnce`). */
interface TableFacts {
  /** RETURNING: no rewrite rules, no row-level security, and SELECT on the whole table. */
  returning: boolean;
  /** A table (plain or partitioned), whose rows have system columns such as `xmax`; not a view. */
  table: boolean;
}

const tableFacts = new WeakMap<EntityMetadata, Promise<TableFacts>>();

/**
 * Whether a where-write can have its rows returned with a RETURNING of actionlog's (see `returningFits`): with their
 * old and new values (PostgreSQL 18+, `runReturningRows`), or their keys (any version, `runReturningKeys`). A check
 * that could not be made is reported (unless the transaction had already failed), and the answer is no.
 */
export async function mayReturnRows(
  qb: WriteBuilder,
  runner: QueryRunner | undefined,
  recorder: QueryWriteRecorder,
  returned: 'old-and-new' | 'keys',
): Promise<boolean> {
  const dataSource = dataSourceOf(qb);
  if (returned === 'old-and-new' && !returnsOldValues(dataSource)) return false;
  try {
    return await returningFits(qb, dataSource, runner);
  } catch (error) {
    if (!inFailedTransaction(error)) recorder.report(error);
    return false;
  }
}

/**
 * Whether a where-write on PostgreSQL can have a RETURNING of actionlog's: none of the caller's own, no CTEs, and a
 * table that lets it through: no rewrite rules (a data-modifying statement with rules cannot run inside WITH), no
 * row-level security, and SELECT on the whole table (RETURNING needs both).
 */
async function returningFits(qb: WriteBuilder, dataSource: DataSource, runner: QueryRunner | undefined): Promise<boolean> {
  if (dataSource.driver.options.type !== 'postgres') return false;
  const map = qb.expressionMap;
  // The caller's own RETURNING (unset unless asked for, whatever TypeORM's types say) is left alone.
  const returning = map.returning as string | string[] | undefined;
  if (returning !== undefined && returning !== '' && !(Array.isArray(returning) && returning.length === 0)) return false;
  if (map.whereEntities.length > 0) return false;
  // A statement with common table expressions of its own is left as written (nested WITH has limits).
  if (((map as { commonTableExpressions?: unknown[] }).commonTableExpressions?.length ?? 0) > 0) return false;
  return tableLetsReturningThrough(qb, dataSource, runner);
}

/**
 * Whether the write's PostgreSQL table lets RETURNING through: no rewrite rules, no row-level security, and SELECT
 * on the whole table. Asked once per table (see `askOnce`).
 */
export async function tableLetsReturningThrough(
  qb: WriteBuilder,
  dataSource: DataSource,
  runner: QueryRunner | undefined,
): Promise<boolean> {
  return (await factsOf(qb, dataSource, runner)).returning;
}

/** Whether the write's PostgreSQL relation is a table (plain or partitioned), not a view: its rows have `xmax`. */
export async function isTable(qb: WriteBuilder, dataSource: DataSource, runner: QueryRunner | undefined): Promise<boolean> {
  return (await factsOf(qb, dataSource, runner)).table;
}

function factsOf(qb: WriteBuilder, dataSource: DataSource, runner: QueryRunner | undefined): Promise<TableFacts> {
  const metadata = metadataOf(qb);
  let check = tableFacts.get(metadata);
  if (!check) {
    const table = (qb as unknown as { getTableName(path: string): string }).getTableName(metadata.tablePath);
    check = askOnce(dataSource, runner, table);
    tableFacts.set(metadata, check);
    // A check that could not be made is made again next time.
    check.catch(() => tableFacts.delete(metadata));
  }
  return check;
}

/**
 * Asked once per table: on the write's own connection when it has one (a second one from a small pool could
 * wait forever on the first), inside a savepoint when a transaction is open there, so it can never abort it.
 */
async function askOnce(dataSource: DataSource, runner: QueryRunner | undefined, table: string): Promise<TableFacts> {
  const sql = `SELECT NOT c.relrowsecurity AND has_table_privilege(c.oid, 'SELECT')
      AND NOT EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN') AS "free",
      c.relkind IN ('r', 'p') AS "table"
    FROM pg_class c WHERE c.oid = to_regclass($1)`;
  const factsIn = (rows: Array<{ free: boolean; table: boolean }>) => ({
    returning: rows[0]?.free === true,
    table: rows[0]?.table === true,
  });
  if (!runner) return factsIn(await dataSource.query<Array<{ free: boolean; table: boolean }>>(sql, [table]));
  const guarded = runner.isTransactionActive;
  if (guarded) await runner.query('SAVEPOINT actionlog_check');
  try {
    const rows = (await runner.query(sql, [table])) as Array<{ free: boolean; table: boolean }>;
    if (guarded) await runner.query('RELEASE SAVEPOINT actionlog_check');
    return factsIn(rows);
  } catch (error) {
    if (guarded) await runner.query('ROLLBACK TO SAVEPOINT actionlog_check').catch(() => {});
    throw error;
  }
}

/**
 * Failures of the statement itself, whether or not it returns rows, by SQLSTATE class: data (22), integrity (23),
 * serialization and deadlock (40), cancellation and timeouts (57), raised by a trigger (P0). Run again, it could
 * fail again or, worse, apply unrecorded.
 */
function failedOnItsOwn(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' && ['22', '23', '40', '57', 'P0'].includes(code.slice(0, 2));
}

/**
 * Runs the write with its changed rows returned: the statement becomes
 * `WITH rows AS (<write> RETURNING old and new values) SELECT count, rows LIMIT take`, so the rows come back in
 * the same round trip, exact under concurrency, and never more than `take` of them. The caller gets the
 * result the plain statement gives.
 */
export async function runReturningRows(
  qb: WriteBuilder,
  deletes: boolean,
  runner: QueryRunner,
  take: number,
  run: () => Promise<unknown>,
  recorder: QueryWriteRecorder,
): Promise<ReturnedRows> {
  const metadata = metadataOf(qb);
  const columns = storedColumns(metadata);
  const returned = columns.map((c, i) => {
    const name = qb.escape(c.databaseName);
    return deletes ? `actionlog_old.${name} AS "o${i}"` : `actionlog_old.${name} AS "o${i}", actionlog_new.${name} AS "n${i}"`;
  });
  const { result, count, records } = await runReturning(qb, runner, take, run, recorder, OLD_AND_NEW, returned);
  const row = (record: ObjectLiteral, prefix: string) => returnedRow(metadata, columns, record, prefix);
  // Hydrated only after the write, under the guard: a transformer that throws is reported, and the rows go unrecorded.
  const rows: ReturnedRows['rows'] = [];
  recorder.guard(() => {
    rows.push(...records.map((r) => ({ old: row(r, 'o'), next: deletes ? null : row(r, 'n') })));
  });
  return { result, count, rows };
}

/**
 * Runs the write with the primary keys of the rows it changed returned, as `runReturningRows` does (any
 * PostgreSQL): up to `take` of them, each as a row holding its key alone.
 */
export async function runReturningKeys(
  qb: WriteBuilder,
  runner: QueryRunner,
  take: number,
  run: () => Promise<unknown>,
  recorder: QueryWriteRecorder,
): Promise<{ result: unknown; count: number; keys: ObjectLiteral[] }> {
  const metadata = metadataOf(qb);
  const columns = metadata.primaryColumns;
  const returned = columns.map((c, i) => `${qb.escape(c.databaseName)} AS "k${i}"`);
  const { result, count, records } = await runReturning(qb, runner, take, run, recorder, KEYS, returned);
  const keys: ObjectLiteral[] = [];
  recorder.guard(() => {
    keys.push(...records.map((r) => returnedRow(metadata, columns, r, 'k')));
  });
  return { result, count, keys };
}

/** A returned record's columns, aliased `<prefix><index>`, as an entity row. */
function returnedRow(
  metadata: EntityMetadata,
  columns: ReadonlyArray<{ databaseName: string }>,
  record: ObjectLiteral,
  prefix: string,
): ObjectLiteral {
  return hydrate(metadata, Object.fromEntries(columns.map((c, i) => [c.databaseName, record[`${prefix}${i}`]])));
}

/**
 * The write run with `RETURNING <lead> <columns>` (`lead`: `OLD_AND_NEW` or `KEYS`), wrapped so that it answers its
 * count and up to `take` rows; the caller of the write gets what the plain UPDATE or DELETE answers.
 */
async function runReturning(
  qb: WriteBuilder,
  runner: QueryRunner,
  take: number,
  run: () => Promise<unknown>,
  recorder: QueryWriteRecorder,
  lead: string,
  columns: string[],
): Promise<{ result: unknown; count: number; records: ObjectLiteral[] }> {
  const saved = qb.expressionMap.returning;
  // This write's own mark: another write side by side on the runner has another.
  const mine = uniqueMarker('returned rows');
  qb.expressionMap.returning = `${lead} ${columns.join(', ')} ${mine}`;
  let records: ObjectLiteral[] = [];
  let count = 0;
  const restore = interceptStatement(runner, mine, async (original, self, sql, parameters, structured) => {
    const wrapped = `WITH "actionlog_rows" AS (${sql}) SELECT (SELECT count(*) FROM "actionlog_rows") AS "actionlog_count", * FROM "actionlog_rows" LIMIT ${take}`;
    let answer: { records?: ObjectLiteral[] };
    try {
      answer = (await original.call(self, wrapped, parameters, true)) as typeof answer;
    } catch (error) {
      // The statement's own failure (a constraint, a bad value) is the caller's, as without actionlog; so is any
      // failure inside a transaction, which is lost either way.
      if (self.isTransactionActive || failedOnItsOwn(error)) throw error;
      // Outside a transaction the failed statement changed nothing: the caller's own runs, unrecorded. Should it
      // fail too, its error is the caller's; should it not, the wrapping was at fault, and that is reported.
      const plain = await original.call(self, sql.slice(0, sql.lastIndexOf(` RETURNING ${lead}`)), parameters, structured);
      recorder.report(error);
      return plain;
    }
    records = answer.records ?? [];
    count = Number(records[0]?.actionlog_count ?? 0);
    // What the plain UPDATE or DELETE answers: no rows, and the number changed.
    const plain = Object.assign(Object.create(Object.getPrototypeOf(answer) as object) as object, {
      records: [],
      raw: [[], count],
      affected: count,
    });
    return structured ? plain : (plain as { raw: unknown }).raw;
  });
  try {
    return { result: await run(), count, records };
  } finally {
    restore();
    qb.expressionMap.returning = saved;
  }
}
