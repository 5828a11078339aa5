import { sameValue } from 'actionlog/adapter-kit';
import type { ObjectLiteral, QueryRunner } from 'typeorm';
import { idMapOf, modelIdOf, overlayState, plainState, predictedState } from './entity-state.js';
import { readByIds, readTargets } from './reads.js';
import { runReturningRows } from './returning-writes.js';
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
    const { result, count, rows } = await runReturningRows(
      qb,
      kind === 'delete',
      runner,
      recorder.maxDocumentsPerQuery + 1,
      run,
      (error) => {
        recorder.report(error);
      },
    );
    try {
      if (count > recorder.maxDocumentsPerQuery) {
        recordSummary(qb, ACTION[kind], recorder, runner, count);
        return result;
      }
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
  const read = () => readTargets(qb, kind, runner, limit + 1, savepoints);
  const before =
    ownTransaction && runner ? await readOrStepAside(runner, recorder, read) : await readSafely(runner, savepoints, recorder, read);
  const result = (await run()) as { affected?: number };
  if (!before) return result;
  if (stamped && (kind === 'soft-delete' || kind === 'restore')) {
    const ids = before.map((row) => idMapOf(metadata, row)).filter((id): id is ObjectLiteral => id !== undefined);
    await readSafely(runner, savepoints, recorder, () =>
      softDeleteStamps(runner, metadata, ids, kind === 'soft-delete', recorder.currentUser()),
    );
  }
  if (before.length > limit) {
    recordSummary(qb, ACTION[kind], recorder, runner, result.affected ?? before.length);
    return result;
  }
  // The new state is computed from the update where that is exact, read back by id where it is not.
  const predictable = kind === 'update' && values && typeof values === 'object' && !Array.isArray(values);
  const changes = before.map((row) => {
    const old = overlayState(metadata, null, row);
    return { row, old, predicted: predictable ? predictedState(metadata, old, values) : undefined };
  });
  const mustRead = kind !== 'delete' && changes.some((c) => c.predicted === undefined);
  const after = mustRead ? ((await readSafely(runner, savepoints, recorder, () => readByIds(metadata, before, runner))) ?? []) : [];
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
  return result;
}
