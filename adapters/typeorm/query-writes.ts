import type { QueryRunner } from 'typeorm';
import { isSqliteFamily } from './entity-state.js';
import { captureInsert } from './insert-writes.js';
import { canReturnRows } from './returning-writes.js';
import { isStamped } from './stamps.js';
import { captureReturned, captureWhereWrite } from './where-writes.js';
import { dataSourceOf, kindOf, metadataOf, type QueryWriteRecorder, type WriteBuilder } from './write-builder.js';

/** Marks ActionLogSubscriber instances in `dataSource.subscribers`. */
export const SUBSCRIBER = Symbol.for('actionlog.typeorm.subscriber');

/**
 * The recorder for a write builder: the data source's ActionLogSubscriber when it records the entity and the
 * builder calls listeners; else the write is left alone.
 */
export function recorderFor(qb: WriteBuilder): QueryWriteRecorder | undefined {
  const map = qb.expressionMap;
  if (!map.callListeners || !map.mainAlias?.hasMetadata) return undefined;
  const recorder = dataSourceOf(qb).subscribers.find((s) => (s as { [SUBSCRIBER]?: boolean })[SUBSCRIBER]) as
    QueryWriteRecorder | undefined;
  return recorder?.records(map.mainAlias.metadata) ? recorder : undefined;
}

/**
 * Records a query-level write (`repository.update/delete/softDelete/restore`, `insert`, `upsert`, and their
 * QueryBuilder forms), for which TypeORM gives subscribers no rows. Outside a transaction, reading before and
 * after the write is only exact inside one of actionlog's own, which it opens (SQLite has one shared connection,
 * where that is neither needed nor possible).
 */
export async function captureQueryWrite(qb: WriteBuilder, recorder: QueryWriteRecorder, run: () => Promise<unknown>): Promise<unknown> {
  const dataSource = dataSourceOf(qb);
  const sqlite = isSqliteFamily(dataSource.options.type);
  const given = (qb as unknown as { queryRunner?: QueryRunner }).queryRunner;
  const kind = kindOf(qb);
  if (kind !== 'insert' && (await returnsRows(qb, recorder, given))) return captureReturned(qb, kind, recorder, given, run);
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
    const result =
      kind === 'insert'
        ? await captureInsert(qb, recorder, runner, !sqlite, run)
        : await captureWhereWrite(qb, kind, recorder, runner, !sqlite, started, run);
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
async function returnsRows(qb: WriteBuilder, recorder: QueryWriteRecorder, runner: QueryRunner | undefined): Promise<boolean> {
  if (recorder.queryWrites !== 'auto') return false;
  const kind = kindOf(qb);
  // Soft-delete stamps are written after the statement: the state to record is read after them.
  if ((kind === 'soft-delete' || kind === 'restore') && isStamped(metadataOf(qb))) return false;
  try {
    return await canReturnRows(qb, dataSourceOf(qb), runner);
  } catch (error) {
    recorder.report(error);
    return false;
  }
}
