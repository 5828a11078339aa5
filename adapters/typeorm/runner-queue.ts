import { AsyncLocalStorage } from 'node:async_hooks';
import type { QueryRunner } from 'typeorm';

/*
 * The captures of writes on one query runner in a transaction, one at a time: the statements of save() (TypeORM runs
 * a save's updates side by side on drivers other than PostgreSQL) and the caller's query-level writes (an app may
 * run writes side by side in one transaction, `Promise.all`). Two captures interleaved on one connection could read
 * a row between the other's read and write, and their savepoints would nest, so that one's `ROLLBACK TO` could undo
 * the other's write. The transaction ends only once they have all run (the subscriber waits for `drained` before
 * COMMIT or ROLLBACK), as without actionlog. A write started by a listener of a capture under way (an app's
 * subscriber saving in `afterUpdate`) runs at once: queued, it would wait for the capture that waits for it.
 */

// On the runner under a registered symbol, not in a module's WeakMap: the prototypes are patched once per process,
// by the first copy of actionlog loaded (ESM or CJS), and the subscriber of another copy must wait for that queue.
// The runner whose queued work is under way is known the same way, to every copy.
const TAIL = Symbol.for('actionlog.typeorm.runner-queue');
const RUNNING = Symbol.for('actionlog.typeorm.runner-queue.running');
type QueuedRunner = QueryRunner & { [TAIL]?: Promise<void> };
const running: AsyncLocalStorage<QueryRunner> = ((globalThis as { [RUNNING]?: AsyncLocalStorage<QueryRunner> })[RUNNING] ??=
  new AsyncLocalStorage<QueryRunner>());

/** Runs `work` once every work queued before it on `runner` has ended, however it ended. */
export function queued<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  if (running.getStore() === runner) return work();
  const holder: QueuedRunner = runner;
  const result = (holder[TAIL] ?? Promise.resolve()).then(() => running.run(runner, work));
  const tail = result.then(
    () => {},
    () => {},
  );
  holder[TAIL] = tail;
  void tail.then(() => {
    if (holder[TAIL] === tail) holder[TAIL] = undefined;
  });
  return result;
}

/** Settles once every work queued so far on `runner` has ended. */
export function drained(runner: QueryRunner): Promise<void> | undefined {
  return (runner as QueuedRunner)[TAIL];
}
