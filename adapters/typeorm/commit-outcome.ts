import type { AfterQueryEvent, QueryRunner } from 'typeorm';

/*
 * PostgreSQL answers the COMMIT of a transaction that a failed statement aborted with ROLLBACK, and no error: an
 * application that caught the failure and went on sees its transaction "commit", and TypeORM reports a commit.
 * The answer's command tag tells the two apart.
 */

const rolledBack = new WeakSet<QueryRunner>();

/** Notes, from TypeORM's after-query event, a COMMIT that the server carried out as a ROLLBACK. */
export function noteCommitOutcome(event: AfterQueryEvent): void {
  if (!event.success || event.query !== 'COMMIT') return;
  const command = (event.rawResults as { command?: unknown } | null | undefined)?.command;
  if (command === 'ROLLBACK') rolledBack.add(event.queryRunner);
}

/** Whether the commit just made on `runner` was carried out as a rollback (asked once per commit). */
export function commitRolledBack(runner: QueryRunner): boolean {
  return rolledBack.delete(runner);
}
