import { ActionLogError } from 'actionlog';
import { sameValue } from 'actionlog/adapter-kit';
import type { EntityMetadata, ObjectLiteral, QueryRunner } from 'typeorm';
import { modelIdOf, plainState } from './entity-state.js';
import { insertReturnsRows, runInsertWithKeys } from './inserted-keys.js';
import { readByValues, readCommitted } from './reads.js';
import { isTable, returnsOldValues } from './returning-writes.js';
import { readSafely } from './savepoints.js';
import { dataSourceOf, metadataOf, type QueryWriteRecorder, type WriteBuilder } from './write-builder.js';

/*
 * `upsert()`, `insert().orUpdate()` and `insert().orIgnore()` whose values carry a unique key. On PostgreSQL 18 and
 * later the statement returns each row it inserted or updated with its old values (`RETURNING OLD`), exact under
 * concurrency. Elsewhere the rows its values could meet (by the conflict target, or for `orIgnore()` without one by
 * every unique key the values carry) are read before it; on earlier PostgreSQL the statement returns the rows it
 * wrote and whether it updated each, elsewhere (SQLite) they are read after it, matched by primary key.
 */

/** A row an upsert wrote, as stored after it, and as it was before (undefined: inserted). */
interface Upserted {
  row: ObjectLiteral;
  previous: ObjectLiteral | undefined;
}

type ColumnMetadata = EntityMetadata['columns'][number];

/**
 * Whether the insert may meet existing rows: it resolves conflicts (ON CONFLICT DO UPDATE / DO NOTHING) and its
 * values carry a key a conflict can arise on. Values that carry none (an `orIgnore()` of rows with only a
 * generated key) are all inserted: a plain insert.
 */
export function meetsExistingRows(qb: WriteBuilder, valueSets: ObjectLiteral[]): boolean {
  const map = conflictOptionsOf(qb);
  if (map.onUpdate === undefined && map.onIgnore !== true) return false;
  const keys = conflictKeys(qb, metadataOf(qb));
  return valueSets.some((values) => keys.some((key) => carries(key, values)));
}

/** ON CONFLICT DO UPDATE and DO NOTHING of an insert: absent on a plain insert, whatever TypeORM's types say. */
function conflictOptionsOf(qb: WriteBuilder): { onUpdate?: { conflict?: string | string[] }; onIgnore?: boolean } {
  return qb.expressionMap;
}

/** Whether the upsert returns its rows with their old values (PostgreSQL 18+, see `runInsertWithKeys`): nothing is read. */
export async function upsertReturnsRows(qb: WriteBuilder, recorder: QueryWriteRecorder, runner: QueryRunner | undefined): Promise<boolean> {
  if (recorder.queryWrites !== 'auto' || !runner || !returnsOldValues(dataSourceOf(qb))) return false;
  return insertReturnsRows(qb, runner, (error) => {
    recorder.report(error);
  });
}

/** Records an upsert from the rows it returns, each with its old values (see `upsertReturnsRows`). */
export async function captureReturnedUpsert(
  qb: WriteBuilder,
  recorder: QueryWriteRecorder,
  runner: QueryRunner,
  valueSets: ObjectLiteral[],
  run: () => Promise<unknown>,
): Promise<unknown> {
  const { result, rows = [], old = [] } = await runInsertWithKeys(qb, runner, valueSets, run, recorder, 'values');
  recorder.guard(() => {
    recordUpserted(
      metadataOf(qb),
      recorder,
      runner,
      rows.map((row, i) => ({ row, previous: old[i] ?? undefined })),
    );
  });
  return result;
}

export async function captureUpsert(
  qb: WriteBuilder,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  savepoints: boolean,
  valueSets: ObjectLiteral[],
  run: () => Promise<unknown>,
): Promise<unknown> {
  const metadata = metadataOf(qb);
  const keys = conflictKeys(qb, metadata);
  // Taken before the statement: TypeORM then merges into the values the keys it believes were generated, wrongly
  // for skipped rows on SQLite.
  const lookups = keys.map((key) => ({
    key,
    values: valueSets.filter((values) => carries(key, values)).map((values) => keyValues(key, values)),
  }));
  const unfound = valueSets.filter((values) => !keys.some((key) => carries(key, values))).length;
  if (unfound > 0)
    recorder.report(
      new ActionLogError(
        `actionlog cannot find the rows of ${String(unfound)} value set(s) of an upsert into ${metadata.name}: they carry no unique key; they are not recorded`,
      ),
    );
  // The read before locks the rows it finds (PostgreSQL): another transaction's change to one then commits before it
  // or waits for the upsert, never in between.
  const read = (beforeWrite: boolean) =>
    readSafely(runner, savepoints, recorder, () => readByKeys(metadata, lookups, runner, beforeWrite && savepoints), beforeWrite);
  const before = await read(true);
  const written =
    runner && (await returnsUpdatedRows(qb, runner, recorder))
      ? await runInsertWithKeys(qb, runner, valueSets, run, recorder, 'updated')
      : undefined;
  const result = written ? written.result : await run();
  if (!before) return result;
  let upserted: Upserted[];
  if (runner && written?.rows && written.updated)
    upserted = await withStatesBefore(metadata, written.rows, written.updated, before, runner, savepoints, recorder);
  else {
    // Without the rows returned (the caller's own RETURNING, a view, rules or row-level security): a row another
    // transaction inserted after the read before reads as Created (README).
    const after = await read(false);
    const beforeById = new Map(before.map((row) => [modelIdOf(metadata, row), row]));
    upserted = (after ?? []).map((row) => ({ row, previous: beforeById.get(modelIdOf(metadata, row)) }));
  }
  // The rows are written: whatever fails in recording them is reported, and the caller gets the upsert's own result.
  recorder.guard(() => {
    recordUpserted(metadata, recorder, runner, upserted);
  });
  return result;
}

/**
 * PostgreSQL: whether the upsert can return its rows whole, with whether it updated each (`xmax`: a table, not a
 * view). A check that could not be made was reported by `insertReturnsRows`.
 */
async function returnsUpdatedRows(qb: WriteBuilder, runner: QueryRunner, recorder: QueryWriteRecorder): Promise<boolean> {
  const report = (error: unknown) => {
    recorder.report(error);
  };
  return (await insertReturnsRows(qb, runner, report)) && (await isTable(qb, dataSourceOf(qb), runner).catch(() => false));
}

/**
 * The rows an upsert returned, each with its state before: as read before it; for a row it updated that the read
 * missed (another transaction inserted it after the read, committed after it or while the upsert waited for it),
 * as that transaction committed it (see `readCommitted`); none for a row it inserted.
 */
async function withStatesBefore(
  metadata: EntityMetadata,
  rows: ObjectLiteral[],
  updated: boolean[],
  before: ObjectLiteral[],
  runner: QueryRunner,
  savepoints: boolean,
  recorder: QueryWriteRecorder,
): Promise<Upserted[]> {
  const states = new Map(before.map((row) => [modelIdOf(metadata, row), row]));
  const unseen = rows.filter((row, i) => updated[i] && !states.has(modelIdOf(metadata, row)));
  if (unseen.length > 0) {
    const what = `row(s) an upsert into ${metadata.name} updated, inserted by another transaction after the read before it`;
    for (const row of await readCommitted(metadata, unseen, runner, savepoints, recorder, what)) states.set(modelIdOf(metadata, row), row);
  }
  const upserted: Upserted[] = [];
  rows.forEach((row, i) => {
    const previous = states.get(modelIdOf(metadata, row));
    // An updated row whose state before is unknown (reported) is left out rather than recorded as created.
    if (previous || !updated[i]) upserted.push({ row, previous });
  });
  return upserted;
}

/** Each row as stored after the upsert, Created or Updated against its state before it; unchanged rows not at all. */
function recordUpserted(
  metadata: EntityMetadata,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  upserted: Upserted[],
): void {
  for (const { row, previous } of upserted) {
    const next = plainState(metadata, row);
    const old = previous ? plainState(metadata, previous) : null;
    if (old && sameValue(old, next)) continue;
    recorder.record(
      recorder.change(metadata, {
        action: old ? 'Updated' : 'Created',
        model_id: modelIdOf(metadata, row),
        old_object: old,
        new_object: next,
      }),
      runner,
    );
  }
}

/** The column sets a conflict can arise on: the target named, else the primary key and every unique constraint. */
function conflictKeys(qb: WriteBuilder, metadata: EntityMetadata): ColumnMetadata[][] {
  const conflict = conflictOptionsOf(qb).onUpdate?.conflict;
  const names = conflict === undefined ? [] : Array.isArray(conflict) ? conflict : [conflict];
  const named = names.map((n) => metadata.findColumnWithDatabaseName(n)).filter((c) => c !== undefined);
  if (named.length > 0) return [named];
  return [
    metadata.primaryColumns,
    ...metadata.uniques.map((unique) => unique.columns),
    ...metadata.indices.filter((index) => index.isUnique).map((index) => index.columns),
  ].filter((key) => key.length > 0);
}

function carries(key: ColumnMetadata[], values: ObjectLiteral): boolean {
  return key.every((column) => {
    const value: unknown = column.getEntityValue(values);
    return value !== undefined && typeof value !== 'function';
  });
}

/** A copy of the values of `key`'s columns. */
function keyValues(key: ColumnMetadata[], values: ObjectLiteral): ObjectLiteral {
  const copy: ObjectLiteral = {};
  for (const column of key) column.setEntityValue(copy, column.getEntityValue(values));
  return copy;
}

/** The rows holding, in a key, the values of one of its value sets. */
async function readByKeys(
  metadata: EntityMetadata,
  lookups: Array<{ key: ColumnMetadata[]; values: ObjectLiteral[] }>,
  runner: QueryRunner | undefined,
  lock: boolean,
): Promise<ObjectLiteral[]> {
  const rows = new Map<string | null, ObjectLiteral>();
  for (const { key, values } of lookups) {
    for (const row of await readByValues(metadata, key, values, runner, lock)) rows.set(modelIdOf(metadata, row), row);
  }
  return [...rows.values()];
}
