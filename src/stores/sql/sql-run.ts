import { BATCH_LISTS, type BatchEntry, batchOfUnits, batchUnits } from '../../shared/batch-units.js';
import type { StoreBatch } from '../../shared/document.js';
import { ActionLogStoreError } from '../../shared/errors.js';
import { runProgram } from './sql-schema.js';
import type { SqlDataSourceLike, SqlProgram, SqlRow } from './sql-types.js';
import { type BetterSqliteLike, betterSqliteOf, preparedStatement } from './sqlite-statements.js';

/** How long the store waits for the app's transaction on the one SQLite connection to end before retrying later. */
const SQLITE_WAIT_MS = 5000;

/**
 * Runs a program in one transaction of the store's own: on a pooled PostgreSQL connection, or synchronously on
 * better-sqlite3's one connection once no app transaction is open there (inside one, the store's statements would
 * share its fate), so that no other query slips in between.
 */
export async function runInTransaction(dataSource: SqlDataSourceLike, program: SqlProgram): Promise<void> {
  const sqlite = betterSqliteOf(dataSource);
  if (!sqlite) {
    await dataSource.transaction((manager) => runProgram((sql, params) => manager.query(sql, params), program));
    return;
  }
  await outsideAppTransaction(sqlite);
  // BEGIN IMMEDIATE: another process writing the same file makes it wait (busy timeout), where a deferred
  // transaction that read first would fail at once on its first write.
  sqlite
    .transaction(() => {
      for (let step = program.next(); !step.done;) {
        const statement = preparedStatement(sqlite, step.value.sql);
        const rows: SqlRow[] = statement.reader ? statement.all(...step.value.params) : (statement.run(...step.value.params), []);
        step = program.next(rows);
      }
    })
    .immediate();
}

/**
 * SQLite: whether the store could write now, writing nothing: takes the write lock and lets it go. Another
 * process holding it longer than the busy timeout makes this fail, so that the writer waits for the store
 * rather than judging the documents it was writing.
 */
export async function sqliteWritable(dataSource: SqlDataSourceLike): Promise<void> {
  const sqlite = betterSqliteOf(dataSource);
  if (!sqlite) return;
  await outsideAppTransaction(sqlite);
  sqlite.transaction(() => undefined).immediate();
}

async function outsideAppTransaction(sqlite: BetterSqliteLike): Promise<void> {
  const deadline = Date.now() + SQLITE_WAIT_MS;
  while (sqlite.inTransaction) {
    if (Date.now() > deadline) throw new ActionLogStoreError('SqlStore: the SQLite connection stayed inside a transaction; will retry', 0);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Documents per transaction of a SQLite write: better-sqlite3 holds the event loop for the whole of one (about
 * 20 ms for 1 000 request documents), so a larger batch goes in parts with a turn of the loop between them.
 */
export const SQLITE_DOCUMENTS_PER_WRITE = 200;

/**
 * `batch` in parts of about `size` documents, in its order. A request's document and the logs copied from it stay
 * in one part, whatever their number (see `batchUnits`): it is stored with its logs or not at all, as a strict
 * write (`onStoreError: 'throw'`) expects.
 */
export function batchParts(batch: StoreBatch, size: number): StoreBatch[] {
  if (BATCH_LISTS.reduce((n, list) => n + batch[list].length, 0) <= size) return [batch];
  const parts: StoreBatch[] = [];
  let part: BatchEntry[][] = [];
  let count = 0;
  for (const unit of batchUnits(batch)) {
    if (count >= size) {
      parts.push(batchOfUnits(part));
      part = [];
      count = 0;
    }
    part.push(unit);
    count += unit.length;
  }
  parts.push(batchOfUnits(part));
  return parts;
}
