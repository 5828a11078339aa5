import { sameValue } from 'actionlog/adapter-kit';
import type { EntityMetadata, InsertResult, ObjectLiteral, QueryRunner } from 'typeorm';
import { modelIdOf, plainState } from './entity-state.js';
import { readByIds } from './reads.js';
import { readSafely } from './savepoints.js';
import { insertStamps, isStamped } from './stamps.js';
import { markHandled, metadataOf, type QueryWriteRecorder, recordSummary, type WriteBuilder } from './write-builder.js';

type ColumnMetadata = EntityMetadata['columns'][number];

/** Records `insert()`, `upsert()` and their QueryBuilder forms: the rows are read by key before and after. */
export async function captureInsert(
  qb: WriteBuilder,
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  savepoints: boolean,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const metadata = metadataOf(qb);
  const valueSets = qb.getValueSets?.() ?? [];
  const stamped = isStamped(metadata);
  for (const values of valueSets) {
    markHandled(values);
    if (stamped) insertStamps(values, recorder.currentUser());
  }
  if (valueSets.length > recorder.maxDocumentsPerQuery) {
    const result = await run();
    recordSummary(qb, 'Created', recorder, runner, valueSets.length);
    return result;
  }
  const conflict = conflictColumns(qb, metadata);
  const keyOf = (row: ObjectLiteral) => (conflict ? conflictKey(conflict, row) : '');
  const before = conflict ? await readSafely(runner, savepoints, recorder, () => readByValues(metadata, conflict, valueSets, runner)) : [];
  const result = (await run()) as InsertResult;
  if (!before) return result;
  let after: ObjectLiteral[] | undefined;
  if (conflict) {
    after = await readSafely(runner, savepoints, recorder, () => readByValues(metadata, conflict, valueSets, runner));
  } else {
    // TypeORM leaves a hole for a row whose id it could not learn.
    const ids = (result.identifiers as Array<ObjectLiteral | undefined>).filter(
      (id): id is ObjectLiteral => id !== undefined && Object.values(id).some((v) => v !== undefined),
    );
    after = await readSafely(runner, savepoints, recorder, () => readByIds(metadata, ids, runner));
  }
  const beforeByKey = new Map(before.map((row) => [keyOf(row), row]));
  for (const row of after ?? []) {
    const previous = conflict ? beforeByKey.get(keyOf(row)) : undefined;
    const next = plainState(metadata, row);
    if (previous) {
      const old = plainState(metadata, previous);
      if (sameValue(old, next)) continue;
      recorder.record(
        recorder.change(metadata, { action: 'Updated', model_id: modelIdOf(metadata, row), old_object: old, new_object: next }),
        runner,
      );
    } else {
      recorder.record(
        recorder.change(metadata, { action: 'Created', model_id: modelIdOf(metadata, row), old_object: null, new_object: next }),
        runner,
      );
    }
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

async function readByValues(
  metadata: EntityMetadata,
  columns: ColumnMetadata[],
  valueSets: ObjectLiteral[],
  runner: QueryRunner | undefined,
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
  const manager = runner?.manager ?? metadata.dataSource.manager;
  return manager.find(metadata.target, { where: wheres, withDeleted: true });
}
