import type { ModelChange, RequestContext } from 'actionlog';
import type { QueryRunner } from 'typeorm';

/** A change and the scope it was made in, held until its transaction commits. */
export interface PendingChange {
  change: ModelChange;
  context: RequestContext | null;
}

/** TypeORM keeps the nesting level (0 = no transaction, 2+ = inside savepoints) as a protected field. */
function depthOf(runner: QueryRunner): number {
  return (runner as unknown as { transactionDepth?: number }).transactionDepth ?? (runner.isTransactionActive ? 1 : 0);
}

/**
 * Changes made inside transactions, per query runner, one frame per transaction level. A savepoint that rolls
 * back drops its frame, one that is released hands it to the level below, and the outermost commit releases
 * everything. TypeORM fires after-events before COMMIT, so nothing is recorded before that.
 */
export class TransactionBuffer {
  private readonly frames = new WeakMap<QueryRunner, PendingChange[][]>();

  add(runner: QueryRunner, pending: PendingChange): void {
    const level = Math.max(1, depthOf(runner));
    const stack = this.frames.get(runner) ?? [];
    while (stack.length < level) stack.push([]);
    stack[level - 1]!.push(pending);
    this.frames.set(runner, stack);
  }

  /** Called after a commit: the changes to record now (outermost commit), or none (a savepoint released). */
  committed(runner: QueryRunner): PendingChange[] {
    const stack = this.frames.get(runner);
    if (!stack) return [];
    const level = depthOf(runner);
    const closed = stack.splice(level).flat();
    if (level > 0) {
      while (stack.length < level) stack.push([]);
      stack[level - 1]!.push(...closed);
      return [];
    }
    this.frames.delete(runner);
    return closed;
  }

  /** Called after a rollback: the frames of the levels that ended are dropped. */
  rolledBack(runner: QueryRunner): void {
    const stack = this.frames.get(runner);
    if (!stack) return;
    stack.splice(depthOf(runner));
    if (stack.length === 0) this.frames.delete(runner);
  }
}
