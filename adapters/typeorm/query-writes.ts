import type { QueryRunner } from 'typeorm';
import { isSqliteFamily } from './entity-state.js';
import { captureInsert, insertReadsNothing } from './insert-writes.js';
import { persistingWithListeners } from './patches.js';
import { mayReturnRows } from './returning-writes.js';
import { queued } from './runner-queue.js';
import { insertStamps, isStamped, queryUpdateStamps } from './stamps.js';
import { captureReturned, captureWhereWrite } from './where-writes.js';
import {
  dataSourceOf,
  isOwnWrite,
  isPersistenceStatement,
  kindOf,
  metadataOf,
  type QueryWriteRecorder,
  runnerOf,
  type WriteBuilder,
} from './write-builder.js';

/** Marks ActionLogSubscriber instances in `dataSource.subscribers`. */
export const SUBSCRIBER = Symbol.for('actionlog.typeorm.subscriber');

/** Whether a value is an ActionLogSubscriber, of any copy of `actionlog/typeorm`. */
export function isActionLogSubscriber(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as { [SUBSCRIBER]?: boolean })[SUBSCRIBER] === true;
}

/**
 * The recorder for a write builder: the data source's ActionLogSubscriber when it records the entity and the
 * write is the caller's with listeners on, or a statement of a `save()`/`remove()` with listeners on; else the
 * write is left alone.
 */
export function recorderFor(qb: WriteBuilder): QueryWriteRecorder | undefined {
  const map = qb.expressionMap;
  if (!map.mainAlias?.hasMetadata || isOwnWrite(qb)) return undefined;
  if (!map.callListeners && !persistingWithListeners(runnerOf(qb))) return undefined;
  const recorder = dataSourceOf(qb).subscribers.find((s) => (s as { [SUBSCRIBER]?: boolean })[SUBSCRIBER]) as
    QueryWriteRecorder | undefined;
  return recorder?.records(map.mainAlias.metadata) ? recorder : undefined;
}

/**
 * Records a write statement: the caller's query-level writes (`update/delete/softDelete/restore`, `insert`,
 * `upsert`, and their QueryBuilder forms) and the statements of `save()`/`remove()`/`softRemove()`/`recover()`
 * alike, from the rows as stored. The writes sharing a connection are captured one at a time (see runner-queue.ts).
 */
export function captureQueryWrite(qb: WriteBuilder, recorder: QueryWriteRecorder, run: () => Promise<unknown>): Promise<unknown> {
  const persistence = isPersistenceStatement(qb);
  // The entity events of save() stamped the values already.
  if (!persistence) stampValues(qb, recorder);
  const runner = runnerOf(qb);
  // A runner outside a transaction on PostgreSQL is one write's alone, and its capture opens a transaction of its own.
  const shared = runner && (runner.isTransactionActive || isSqliteFamily(dataSourceOf(qb).options.type));
  return shared ? queued(runner, () => capture(qb, recorder, run)) : capture(qb, recorder, run);
}

/**
 * Outside a transaction, reading before and after the write is only exact inside one of actionlog's own, which it
 * opens (SQLite has one shared connection, where that is neither needed nor possible).
 */
async function capture(qb: WriteBuilder, recorder: QueryWriteRecorder, run: () => Promise<unknown>): Promise<unknown> {
  const dataSource = dataSourceOf(qb);
  const sqlite = isSqliteFamily(dataSource.options.type);
  const given = runnerOf(qb);
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
    // An insert whose rows come back from the INSERT itself reads nothing: it runs as sent, in no transaction.
    if (kind !== 'insert' || !(await insertReadsNothing(qb, recorder, runner))) {
      await runner.startTransaction();
      started = true;
    }
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

/** Stamps of a query-level write of a stamped entity: who created the rows, or who updated them. */
function stampValues(qb: WriteBuilder, recorder: QueryWriteRecorder): void {
  if (!isStamped(metadataOf(qb))) return;
  const kind = kindOf(qb);
  if (kind === 'insert') {
    for (const values of qb.getValueSets?.() ?? []) insertStamps(values, recorder.currentUser());
    return;
  }
  const values = qb.expressionMap.valuesSet;
  if (kind === 'update' && values && typeof values === 'object' && !Array.isArray(values))
    queryUpdateStamps(values, (name) => qb.escape(name), recorder.currentUser());
}

/** Whether the write can report the rows it changes itself (PostgreSQL 18+), sparing the read before it. */
async function returnsRows(qb: WriteBuilder, recorder: QueryWriteRecorder, runner: QueryRunner | undefined): Promise<boolean> {
  if (recorder.queryWrites !== 'auto') return false;
  const kind = kindOf(qb);
  // Soft-delete stamps are written after the statement: the state to record is read after them.
  if ((kind === 'soft-delete' || kind === 'restore') && isStamped(metadataOf(qb))) return false;
  return mayReturnRows(qb, runner, recorder, 'old-and-new');
}
