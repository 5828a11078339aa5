import type { QueryRunner } from 'typeorm';
import type { QueryWriteRecorder } from './write-builder.js';

/**
 * Whether a statement failed because its transaction had already failed (PostgreSQL, SQLSTATE 25P02): then the
 * transaction can only roll back, and nothing of it will be recorded; the read that could not run is no error.
 */
export function inFailedTransaction(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  return e?.code === '25P02' || e?.driverError?.code === '25P02';
}

/**
 * Runs a read that must not break the caller's transaction: on PostgreSQL a failed statement aborts the whole
 * transaction, so the read runs inside a savepoint. A failed read is reported (unless the transaction had already
 * failed) and yields undefined.
 */
export async function readSafely<T>(
  runner: QueryRunner | undefined,
  savepoint: boolean,
  recorder: QueryWriteRecorder,
  read: () => Promise<T>,
): Promise<T | undefined> {
  const guarded = savepoint && runner?.isTransactionActive;
  try {
    if (guarded) await runner.query('SAVEPOINT actionlog_read');
    const value = await read();
    if (guarded) await runner.query('RELEASE SAVEPOINT actionlog_read');
    return value;
  } catch (error) {
    if (guarded) await runner.query('ROLLBACK TO SAVEPOINT actionlog_read').catch(() => {});
    if (!inFailedTransaction(error)) recorder.report(error);
    return undefined;
  }
}

/**
 * The read before a write in a transaction of actionlog's own needs no savepoint: should it fail, the
 * transaction is rolled back, and the write runs on its own, unrecorded (the failure is reported).
 */
export async function readOrStepAside<T>(
  runner: QueryRunner,
  recorder: QueryWriteRecorder,
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    recorder.report(error);
    await runner.rollbackTransaction().catch(() => {});
    return undefined;
  }
}
