import { ActionLogError } from 'actionlog';
import { sameValue } from 'actionlog/adapter-kit';
import type { EntityMetadata, ObjectLiteral, QueryRunner } from 'typeorm';
import { modelIdOf, plainState } from './entity-state.js';
import { runInsertWithKeys } from './inserted-keys.js';
import { readByIds, readByValues } from './reads.js';
import { readSafely } from './savepoints.js';
import { metadataOf, type QueryWriteRecorder, recordSummary, type WriteBuilder } from './write-builder.js';

type ColumnMetadata = EntityMetadata['columns'][number];

/**
 * Records `insert()`, `upsert()`, their QueryBuilder forms, and the inserts of `save()`: the rows are read as
 * stored after the statement (an upsert's also before it, by its conflict target).
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
    recordSummary(qb, 'Created', recorder, runner, valueSets.length);
    return result;
  }
  const conflict = conflictColumns(qb, metadata);
  if (conflict) return captureUpsert(qb, recorder, runner, savepoints, conflict, valueSets, run);
  const { result, keys } = await runInsertWithKeys(qb, runner, valueSets, run);
  const known = keys.filter((key): key is ObjectLiteral => key !== undefined);
  if (known.length < keys.length)
    recorder.report(
      new ActionLogError(
        `actionlog could not learn the primary keys of ${keys.length - known.length} row(s) inserted into ${metadata.name}: they are not recorded`,
      ),
    );
  const after = await readSafely(runner, savepoints, recorder, () => readByIds(metadata, known, runner));
  const byId = new Map((after ?? []).map((row) => [modelIdOf(metadata, row), row]));
  for (const key of known) {
    const row = byId.get(modelIdOf(metadata, key));
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
  return result;
}

async function captureUpsert(
  qb: WriteBuilder,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  savepoints: boolean,
  conflict: ColumnMetadata[],
  valueSets: ObjectLiteral[],
  run: () => Promise<unknown>,
): Promise<unknown> {
  const metadata = metadataOf(qb);
  const read = () => readSafely(runner, savepoints, recorder, () => readByValues(metadata, conflict, valueSets, runner));
  const before = await read();
  const result = await run();
  if (!before) return result;
  const after = await read();
  const beforeByKey = new Map(before.map((row) => [conflictKey(conflict, row), row]));
  for (const row of after ?? []) {
    const previous = beforeByKey.get(conflictKey(conflict, row));
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
  return result;
}

/** A row's values in the conflict columns, as a key: equal keys for equal values (dates by their time). */
function conflictKey(columns: ColumnMetadata[], row: ObjectLiteral): string {
  return columns
    .map((column) => {
      const value: unknown = column.getEntityValue(row) ?? null;
      return value instanceof Date ? `date:${value.getTime()}` : `${typeof value}:${String(value)}`;
    })
    .join('\u0000');
}

/** The columns an upsert resolves conflicts on, or undefined for a plain insert. */
function conflictColumns(qb: WriteBuilder, metadata: EntityMetadata): ColumnMetadata[] | undefined {
  // Absent on a plain insert, whatever TypeORM's types say.
  const onUpdate = qb.expressionMap.onUpdate as typeof qb.expressionMap.onUpdate | undefined;
  if (!onUpdate && !qb.expressionMap.onIgnore) return undefined;
  const names = onUpdate?.conflict ? (Array.isArray(onUpdate.conflict) ? onUpdate.conflict : [onUpdate.conflict]) : [];
  const columns = names.map((n) => metadata.findColumnWithDatabaseName(n)).filter((c) => c !== undefined);
  return columns.length > 0 ? columns : metadata.primaryColumns;
}
