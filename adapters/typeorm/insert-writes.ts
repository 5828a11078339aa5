import { ActionLogError } from 'actionlog';
import type { EntityMetadata, ObjectLiteral, QueryRunner } from 'typeorm';
import { modelIdOf, plainState } from './entity-state.js';
import { insertReturnsRows, runInsertWithKeys } from './inserted-keys.js';
import { readByIds } from './reads.js';
import { readSafely } from './savepoints.js';
import { captureReturnedUpsert, captureUpsert, meetsExistingRows, upsertReturnsRows } from './upsert-writes.js';
import { metadataOf, type QueryWriteRecorder, recordSummary, type WriteBuilder } from './write-builder.js';

/**
 * Whether `captureInsert` reads nothing of the table around this insert (its rows come back from the INSERT, and it
 * meets no existing rows): it then needs no transaction of actionlog's own to be exact.
 */
export async function insertReadsNothing(qb: WriteBuilder, recorder: QueryWriteRecorder, runner: QueryRunner): Promise<boolean> {
  if (meetsExistingRows(qb, qb.getValueSets?.() ?? [])) return upsertReturnsRows(qb, recorder, runner);
  return insertReturnsRows(qb, runner, (error) => {
    recorder.report(error);
  });
}

/**
 * Records `insert()`, `upsert()`, their QueryBuilder forms, and the inserts of `save()`: the rows as stored are
 * returned by the statement itself (PostgreSQL; an upsert's with their old values on 18+) or read after it by the
 * keys of the rows it inserted (an upsert's also before it, see upsert-writes.ts).
 */
export async function captureInsert(
  qb: WriteBuilder,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  savepoints: boolean,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const metadata = metadataOf(qb);
  const valueSets = qb.getValueSets?.() ?? [];
  if (valueSets.length > recorder.maxDocumentsPerQuery) {
    const result = await run();
    recorder.guard(() => {
      recordSummary(qb, 'Created', recorder, runner, valueSets.length);
    });
    return result;
  }
  if (meetsExistingRows(qb, valueSets)) {
    return runner && (await upsertReturnsRows(qb, recorder, runner))
      ? captureReturnedUpsert(qb, recorder, runner, valueSets, run)
      : captureUpsert(qb, recorder, runner, savepoints, valueSets, run);
  }
  const { result, keys, rows } = await runInsertWithKeys(qb, runner, valueSets, run, recorder);
  const known = keys.filter((key): key is ObjectLiteral => key !== undefined);
  if (known.length < keys.length)
    recorder.report(
      new ActionLogError(
        `actionlog could not learn the primary keys of ${keys.length - known.length} row(s) inserted into ${metadata.name}: they are not recorded`,
      ),
    );
  // PostgreSQL: returned by the INSERT itself; elsewhere read after it.
  const after = rows ?? (await readSafely(runner, savepoints, recorder, () => readByIds(metadata, known, runner)));
  // The row is written: whatever fails in recording it is reported, and the caller gets the insert's own result.
  recorder.guard(() => {
    recordCreated(metadata, recorder, runner, known, after ?? []);
  });
  return result;
}

/** One Created per inserted key whose row is among `rows` (as stored). */
function recordCreated(
  metadata: EntityMetadata,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  keys: ObjectLiteral[],
  rows: ObjectLiteral[],
): void {
  // A uuid key given in capitals (Swift's uuidString) is stored, and read back, in lower case.
  const uuids = metadata.primaryColumns.every((column) => column.type === 'uuid' || column.generationStrategy === 'uuid');
  const idOf = (entity: ObjectLiteral) => {
    const id = modelIdOf(metadata, entity);
    return uuids ? id?.toLowerCase() : id;
  };
  const byId = new Map(rows.map((row) => [idOf(row), row]));
  for (const key of keys) {
    const row = byId.get(idOf(key));
    if (!row) continue;
    recorder.record(
      recorder.change(metadata, {
        action: 'Created',
        model_id: modelIdOf(metadata, row),
        old_object: null,
        new_object: plainState(metadata, row),
      }),
      runner,
    );
  }
}
