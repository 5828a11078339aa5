import type { ModelChange, RequestContext } from 'actionlog';

/** A change and the scope it was made in. */
export interface PendingChange {
  change: ModelChange;
  context: RequestContext | null;
}

/** The parts of a driver ClientSession this needs. */
interface SessionLike {
  inTransaction(): boolean;
  startTransaction(...args: unknown[]): unknown;
  commitTransaction(...args: unknown[]): Promise<unknown>;
  abortTransaction(...args: unknown[]): Promise<unknown>;
}

const buffers = new WeakMap<object, PendingChange[]>();
const wrapped = new WeakSet<object>();

/**
 * Records now, or, inside a session transaction, when it commits: dropped when it aborts, and a retried
 * transaction (`withTransaction`, `connection.transaction`) starts over, so it is recorded once.
 */
export function recordInSession(session: unknown, pending: PendingChange, emit: (p: PendingChange) => void): void {
  const s = session as SessionLike | null | undefined;
  if (!s || typeof s.inTransaction !== 'function' || !s.inTransaction()) {
    emit(pending);
    return;
  }
  if (!wrapped.has(s)) wrap(s, emit);
  const list = buffers.get(s) ?? [];
  list.push(pending);
  buffers.set(s, list);
}

/** The session's own methods are wrapped: the driver's withTransaction calls them through `this`. */
function wrap(s: SessionLike, emit: (p: PendingChange) => void): void {
  wrapped.add(s);
  const start = s.startTransaction.bind(s);
  const commit = s.commitTransaction.bind(s);
  const abort = s.abortTransaction.bind(s);
  s.startTransaction = (...args: unknown[]) => {
    buffers.delete(s);
    return start(...args);
  };
  s.abortTransaction = async (...args: unknown[]) => {
    buffers.delete(s);
    return abort(...args);
  };
  s.commitTransaction = async (...args: unknown[]) => {
    const result = await commit(...args);
    const list = buffers.get(s) ?? [];
    buffers.delete(s);
    for (const pending of list) emit(pending);
    return result;
  };
}
