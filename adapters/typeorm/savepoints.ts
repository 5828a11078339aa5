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
 * Whether a statement lost to another transaction: a serialization failure or a deadlock (SQLSTATE class 40), or a
 * lock it waited for too long (55P03, lock_timeout; 57014, statement_timeout). The write it was read for would meet
 * the same, and the caller retries it.
 */
export function lostToConcurrency(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' && (code.startsWith('40') || code === '55P03' || code === '57014');
}

/**
 * Runs a read that must not break the caller's transaction: on PostgreSQL a failed statement aborts the whole
 * transaction, so the read runs inside a savepoint. A failed read is reported (unless the transaction had already
 * failed) and yields undefined. A read before the write (`beforeWrite`) that lost to another transaction throws
 * that error instead, and the write is not run: it would otherwise run unrecorded, once the other transaction had
 * gone (the read that loses a deadlock releases the locks that made it), and the caller retries it as it would
 * without actionlog.
 */
export async function readSafely<T>(
  runner: QueryRunner | undefined,
  savepoint: boolean,
  recorder: QueryWriteRecorder,
  read: () => Promise<T>,
  beforeWrite = false,
): Promise<T | undefined> {
  const guarded = savepoint && runner?.isTransactionActive;
  try {
    if (guarded) await runner.query('SAVEPOINT actionlog_read');
    const value = await read();
    if (guarded) await runner.query('RELEASE SAVEPOINT actionlog_read');
    return value;
  } catch (error) {
    if (guarded) await runner.query('ROLLBACK TO SAVEPOINT actionlog_read').catch(() => {});
    if (beforeWrite && lostToConcurrency(error)) throw error;
    if (!inFailedTransaction(error)) recorder.report(error);
    return undefined;
  }
}

/**
 * The read before a write in a transaction of actionlog's own needs no savepoint: should it fail, the
 * transaction is rolled back, and the write runs on its own, unrecorded (the failure is reported); should it lose
 * to another transaction (see `lostToConcurrency`), its error is the caller's, and the write is not run.
 */
export async function readOrStepAside<T>(
  runner: QueryRunner,
  recorder: QueryWriteRecorder,
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    await runner.rollbackTransaction().catch(() => {});
    if (lostToConcurrency(error)) throw error;
    recorder.report(error);
    return undefined;
  }
}
