import type { QueryRunner } from 'typeorm';

/*
 * The statements of save() on one query runner, captured one at a time. TypeORM runs a save's updates side by side
 * on drivers other than PostgreSQL (and an app may run saves side by side in one transaction): two captures
 * interleaved on one connection could read a row between the other's read and write. Those statements call no
 * listeners, so nothing queued waits for a capture queued after it; and the transaction they run in ends only
 * once they have all run (the subscriber waits for `drained` before COMMIT or ROLLBACK), as without actionlog.
 */

// On the runner under a registered symbol, not in a module's WeakMap: the prototypes are patched once per process,
// by the first copy of actionlog loaded (ESM or CJS), and the subscriber of another copy must wait for that queue.
const TAIL = Symbol.for('actionlog.typeorm.runner-queue');
type QueuedRunner = QueryRunner & { [TAIL]?: Promise<void> };

/** Runs `work` once every work queued before it on `runner` has ended, however it ended. */
export function queued<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  const holder: QueuedRunner = runner;
  const result = (holder[TAIL] ?? Promise.resolve()).then(work);
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
