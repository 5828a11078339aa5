import type { QueryRunner } from 'typeorm';

/*
 * The statements of save() on one query runner, captured one at a time. TypeORM runs a save's updates side by side
 * on drivers other than PostgreSQL (and an app may run saves side by side in one transaction): two captures
 * interleaved on one connection could read a row between the other's read and write. Those statements call no
 * listeners, so nothing queued waits for a capture queued after it; and the transaction they run in ends only
 * once they have all run (the subscriber waits for `drained` before COMMIT or ROLLBACK), as without actionlog.
 */

const tails = new WeakMap<QueryRunner, Promise<void>>();

/** Runs `work` once every work queued before it on `runner` has ended, however it ended. */
export function queued<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  const previous = tails.get(runner) ?? Promise.resolve();
  const result = previous.then(work);
  const tail = result.then(
    () => {},
    () => {},
  );
  tails.set(runner, tail);
  void tail.then(() => {
    if (tails.get(runner) === tail) tails.delete(runner);
  });
  return result;
}

/** Settles once every work queued so far on `runner` has ended. */
export function drained(runner: QueryRunner): Promise<void> | undefined {
  return tails.get(runner);
}
