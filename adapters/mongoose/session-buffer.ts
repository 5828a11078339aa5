import type { ActionLogger } from 'actionlog';
import { type PendingAction, type PendingChange, recordPending, TransactionBuffer } from 'actionlog/adapter-kit';
import { type SessionLike, watchTransactions } from './patches.js';

/** A change or a workflow step's action, the scope it was made in, and the logger that records it. */
export type HeldChange = (PendingChange | PendingAction) & { logger: ActionLogger };

// One per process: a session's transaction may write models of several schemas, each with its own plugin.
const held = new TransactionBuffer<SessionLike, HeldChange>();

function record(pending: HeldChange): void {
  recordPending(pending.logger, pending);
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
    committed: () => {
      for (const p of held.committed(s, 0)) record(p);
    },
  });
  held.add(s, 1, pending);
}
