import type { ActionInput, ActionLogger, RequestContext } from 'actionlog';
import { contextStorage } from '../capture/context.js';
import type { ModelChange } from '../capture/model-change.js';
import { guard } from './guard.js';

/** A change and the scope it was made in, held until its transaction commits. */
export interface PendingChange {
  change: ModelChange;
  context: RequestContext | null;
}

/** An action (a workflow step's) and the scope it was taken in, held until its transaction commits. */
export interface PendingAction {
  action: ActionInput;
  context: RequestContext | null;
}

/** Records a held change or action into the scope it was made in (late, as an append, if that scope ended). */
export function recordPending(logger: ActionLogger, pending: PendingChange | PendingAction): void {
  guard(logger, () => {
    if ('change' in pending) logger.recordModelChange(pending.change, pending.context);
    // An action is recorded in the current scope: the one it was taken in is made current for it.
    else if (pending.context) contextStorage.run(pending.context, () => logger.record(pending.action));
    else contextStorage.exit(() => logger.record(pending.action));
  });
}

/**
 * Changes made inside transactions, per transaction handle (a TypeORM query runner, a MongoDB session), one frame
 * per nesting level (1 = the transaction, 2+ = savepoints). A level that rolls back drops its frame, one that is
 * released hands it to the level below, and the outermost commit hands everything over to be recorded.
 */
export class TransactionBuffer<Handle extends object, Item = PendingChange> {
  private readonly frames = new WeakMap<Handle, Item[][]>();

  /** Holds a change made at `level` (1 or more) of `handle`'s transaction. */
  add(handle: Handle, level: number, pending: Item): void {
    const stack = this.frames.get(handle) ?? [];
    frameAt(stack, level).push(pending);
    this.frames.set(handle, stack);
  }

  /** Every change held for `handle`'s transaction, all levels, oldest first; left held. */
  held(handle: Handle): Item[] {
    return this.frames.get(handle)?.flat() ?? [];
  }

  /** After a commit that left `level` open (0: the transaction ended): the changes to record now, if any. */
  committed(handle: Handle, level: number): Item[] {
    const stack = this.frames.get(handle);
    if (!stack) return [];
    const closed = stack.splice(level).flat();
    if (level > 0) {
      frameAt(stack, level).push(...closed);
      return [];
    }
    this.frames.delete(handle);
    return closed;
  }

  /** After a rollback that left `level` open: the changes of the levels that ended are dropped. */
  rolledBack(handle: Handle, level: number): void {
    const stack = this.frames.get(handle);
    if (!stack) return;
    stack.splice(level);
    if (stack.length === 0) this.frames.delete(handle);
  }
}

/** The frame of `level` (1 or more), made with those below it where missing. */
function frameAt<Item>(stack: Item[][], level: number): Item[] {
  for (;;) {
    const frame = stack[level - 1];
    if (frame) return frame;
    stack.push([]);
  }
}
