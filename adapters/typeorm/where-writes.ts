import { ActionLogError } from 'actionlog';
import { sameValue } from 'actionlog/adapter-kit';
import type { EntityMetadata, ObjectLiteral, QueryRunner } from 'typeorm';
import { modelIdOf, overlayState, plainState, predictedState } from './entity-state.js';
import { idsOf, readByIds, readCommitted, readTargets } from './reads.js';
import { mayReturnRows, type ReturnedRows, runReturningKeys, runReturningRows } from './returning-writes.js';
import { readOrStepAside, readSafely } from './savepoints.js';
import { isStamped, softDeleteStamps } from './stamps.js';
import {
  ACTION,
  dataSourceOf,
  metadataOf,
  type QueryWriteRecorder,
  recordSummary,
  type WhereKind,
  type WriteBuilder,
} from './write-builder.js';

/*
 * UPDATE statements (update, softDelete, restore: query-level ones, and those of save(), softRemove(), recover())
 * and DELETE statements (delete, remove()): which rows they change is learnt from the statement itself
 * (PostgreSQL 18+, RETURNING OLD/NEW) or by reading them with the write's own WHERE before it.
 */

export async function captureReturned(
  qb: WriteBuilder,
  kind: WhereKind,
  recorder: QueryWriteRecorder,
  given: QueryRunner | undefined,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const metadata = metadataOf(qb);
  const runner = given ?? dataSourceOf(qb).createQueryRunner();
  if (!given) qb.setQueryRunner(runner);
  try {
    const { result, count, rows } = await runReturningRows(qb, kind === 'delete', runner, recorder.maxDocumentsPerQuery + 1, run, recorder);
    // The rows are written: whatever fails in recording them is reported, and the caller gets the write's own result.
    recorder.guard(() => {
      if (count > recorder.maxDocumentsPerQuery) recordSummary(qb, ACTION[kind], recorder, runner, count);
      else recordReturned(metadata, kind, recorder, runner, rows);
    });
    return result;
  } finally {
    if (!given) {
      (qb as unknown as { queryRunner: QueryRunner | undefined }).queryRunner = undefined;
      await runner.release();
    }
  }
}

/** One change per returned row the write changed, as it was and as it became. */
function recordReturned(
  metadata: EntityMetadata,
  kind: WhereKind,
  recorder: QueryWriteRecorder,
  runner: QueryRunner,
  rows: ReturnedRows['rows'],
): void {
  const deleted = metadata.deleteDateColumn;
  for (const { old, next } of rows) {
    // Soft delete and restore change only the rows not yet in the state they bring about.
    if (deleted && kind === 'soft-delete' && deleted.getEntityValue(old) != null) continue;
    if (deleted && kind === 'restore' && deleted.getEntityValue(old) == null) continue;
    const before = plainState(metadata, old);
    const after = next && plainState(metadata, next);
    if (kind === 'update' && sameValue(before, after)) continue;
    recorder.record(
      recorder.change(metadata, { action: ACTION[kind], model_id: modelIdOf(metadata, old), old_object: before, new_object: after }),
      runner,
    );
  }
}

export async function captureWhereWrite(
  qb: WriteBuilder,
  kind: WhereKind,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  savepoints: boolean,
  ownTransaction: boolean,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const metadata = metadataOf(qb);
  const limit = recorder.maxDocumentsPerQuery;
  const stamped = isStamped(metadata);
  const values = qb.expressionMap.valuesSet;
  // An update that sets the primary key leaves no way from the keys it returns back to the rows read before it.
  const returning =
    savepoints &&
    runner?.isTransactionActive === true &&
    !(kind === 'update' && setsKey(metadata, values)) &&
    (await mayReturnRows(qb, runner, recorder, 'keys'));
  const read = () => readTargets(qb, kind, runner, limit + 1, savepoints);
  const before =
    ownTransaction && runner ? await readOrStepAside(runner, recorder, read) : await readSafely(runner, savepoints, recorder, read, true);
  // In READ COMMITTED the write sees what committed after the read: rows brought into its conditions meanwhile,
  // which the keys it returns show.
  let result: { affected?: number };
  let broughtIn: ObjectLiteral[] = [];
  if (returning && before) {
    const returned = await runReturningKeys(qb, runner, limit + 1, run, recorder);
    result = returned.result as { affected?: number };
    if (returned.count <= limit) broughtIn = await rowsBroughtIn(metadata, kind, before, returned.keys, runner, recorder);
  } else result = (await run()) as { affected?: number };
  if (!before) return result;
  if (!returning && before.length <= limit && typeof result.affected === 'number' && result.affected > before.length)
    recorder.report(
      new ActionLogError(
        `actionlog recorded ${String(before.length)} of the ${String(result.affected)} rows a query-level ${kind} of ${metadata.name} changed: the others came into its conditions after the read before it (another transaction committed meanwhile); they are not recorded`,
      ),
    );
  const rows = broughtIn.length > 0 ? [...before, ...broughtIn] : before;
  // The rows are written: from here on, whatever fails (a read, or the app's own code such as a column transformer)
  // is reported by `readSafely` or the guard, and the caller gets the write's own result.
  if (stamped && (kind === 'soft-delete' || kind === 'restore')) {
    await readSafely(runner, savepoints, recorder, () =>
      softDeleteStamps(runner, metadata, idsOf(metadata, rows), kind === 'soft-delete', recorder.currentUser()),
    );
  }
  // Past the limit, counting the rows brought in (which the keys returned show): one summary.
  if (rows.length > limit || (returning && (result.affected ?? 0) > limit)) {
    recorder.guard(() => {
      recordSummary(qb, ACTION[kind], recorder, runner, result.affected ?? rows.length);
    });
    return result;
  }
  // The new state is computed from the update where that is exact, read back by id where it is not.
  const predictable = kind === 'update' && values && typeof values === 'object' && !Array.isArray(values);
  const changes: RowChange[] = [];
  recorder.guard(() => {
    changes.push(...rows.map((row) => rowChange(metadata, row, predictable ? values : undefined)));
  });
  const mustRead = kind !== 'delete' && changes.some((c) => c.predicted === undefined);
  const after = mustRead ? ((await readSafely(runner, savepoints, recorder, () => readByIds(metadata, rows, runner))) ?? []) : [];
  recorder.guard(() => {
    recordChanged(metadata, kind, recorder, runner, changes, after);
  });
  return result;
}

/**
 * The rows a write changed (by the keys it returned) that the read before it did not find, as last committed (see
 * `readCommitted`): another transaction brought them into the write's conditions after that read.
 */
async function rowsBroughtIn(
  metadata: EntityMetadata,
  kind: WhereKind,
  before: ObjectLiteral[],
  keys: ObjectLiteral[],
  runner: QueryRunner,
  recorder: QueryWriteRecorder,
): Promise<ObjectLiteral[]> {
  const found = new Set(before.map((row) => modelIdOf(metadata, row)));
  const unseen = keys.filter((key) => !found.has(modelIdOf(metadata, key)));
  if (unseen.length === 0) return [];
  const what = `row(s) a query-level ${kind} of ${metadata.name} changed, brought into its conditions by another transaction after the read before it`;
  return readCommitted(metadata, unseen, runner, true, recorder, what);
}

/** Whether an update's values set a primary key column. */
function setsKey(metadata: EntityMetadata, values: unknown): boolean {
  if (!values || typeof values !== 'object') return false;
  return metadata.primaryColumns.some((column) => column.getEntityValue(values) !== undefined);
}

/** A row a where-write changes: as read before it, its state then, and its state after when that can be predicted. */
interface RowChange {
  row: ObjectLiteral;
  old: Record<string, unknown>;
  predicted: Record<string, unknown> | undefined;
}

function rowChange(metadata: EntityMetadata, row: ObjectLiteral, values: ObjectLiteral | undefined): RowChange {
  const old = overlayState(metadata, null, row);
  return { row, old, predicted: values ? predictedState(metadata, old, values) : undefined };
}

/** One change per row the write changed, its new state predicted or read back (`after`, as stored). */
function recordChanged(
  metadata: EntityMetadata,
  kind: WhereKind,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  changes: RowChange[],
  after: ObjectLiteral[],
): void {
  const afterById = new Map(after.map((row) => [modelIdOf(metadata, row), row]));
  for (const { row, old, predicted } of changes) {
    const id = modelIdOf(metadata, row);
    const next = kind === 'delete' ? null : (predicted ?? plainState(metadata, afterById.get(id) ?? null));
    // A row that could not be read back (the failed read is reported) is not recorded half.
    if (kind !== 'delete' && !next) continue;
    // A row the write left as it was (e.g. an update to the same values) is not a change.
    if (kind === 'update' && next && sameValue(old, next)) continue;
    recorder.record(recorder.change(metadata, { action: ACTION[kind], model_id: id, old_object: old, new_object: next }), runner);
  }
}
