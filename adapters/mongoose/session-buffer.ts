import type { ActionLogger } from 'actionlog';
import { type PendingAction, type PendingChange, recordPending, TransactionBuffer } from 'actionlog/adapter-kit';
import { type SessionLike, watchTransactions } from './patches.js';

/** A change or a workflow step's action, the scope it was made in, and the logger that records it. */
export type HeldChange = (PendingChange | PendingAction) & { logger: ActionLogger };

// One per process: a session's transaction may write models of several schemas, each with its own plugin.
const held = new TransactionBuffer<SessionLike, HeldChange>();
/** Changes stored before their commit (failure policy 'throw'), not to be recorded again after it. */
const storedBeforeCommit = new WeakSet<HeldChange>();

function record(pending: HeldChange): void {
  recordPending(pending.logger, pending);
}

/** Failure policy 'throw': the changes of strict loggers are stored before the commit, which fails when they are not. */
async function storeBeforeCommit(session: SessionLike): Promise<void> {
  const byLogger = new Map<ActionLogger, HeldChange[]>();
  for (const p of held.held(session)) {
    if (p.logger.failurePolicy !== 'throw' || storedBeforeCommit.has(p)) continue;
    const list = byLogger.get(p.logger);
    if (list) list.push(p);
    else byLogger.set(p.logger, [p]);
  }
  for (const [logger, changes] of byLogger) {
    await logger.storeChanges(changes);
    for (const p of changes) storedBeforeCommit.add(p);
  }
}

/**
 * Records now, or, inside a session transaction, when it commits: dropped when it aborts, and a retried
 * transaction (`withTransaction`, `connection.transaction`) starts over, so it is recorded once.
 */
export function recordInSession(session: unknown, pending: HeldChange): void {
  const s = session as SessionLike | null | undefined;
  if (!s || typeof s.inTransaction !== 'function' || !s.inTransaction()) {
    record(pending);
    return;
  }
  watchTransactions(s, {
    started: () => {
      held.rolledBack(s, 0);
    },
    aborted: () => {
      held.rolledBack(s, 0);
    },
    committing: () => storeBeforeCommit(s),
    committed: () => {
      for (const p of held.committed(s, 0)) if (!storedBeforeCommit.has(p)) record(p);
    },
  });
  held.add(s, 1, pending);
}
