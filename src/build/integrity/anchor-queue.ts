import type { CheckpointDocument } from '../../shared/document.js';
import { ActionLogError } from '../../shared/errors.js';

/**
 * Hands each stored checkpoint to the application's `anchor`, one at a time and in order, apart from the
 * checkpoints' own writes: a copy that fails is reported and tried again (it and those after it) the next time,
 * and one that hangs holds back only the copies after it, never the checkpoints.
 */
export class AnchorQueue {
  private readonly waiting: CheckpointDocument[] = [];
  private copying: Promise<boolean> | undefined;
  /** When the copy under way (of the first checkpoint waiting) was handed to `anchor`, by `performance.now()`. */
  private handedAt: number | undefined;
  /** How many copies were handed to `anchor`: the number of the one under way, if any (see `underWay`). */
  private handOffs = 0;
  /** The hand-off a deadline passed for (see `givenUp`); hand-offs are numbered once, so an old one matches no other. */
  private pastDeadline: number | undefined;

  constructor(
    private readonly anchor: (checkpoint: CheckpointDocument) => unknown,
    private readonly report: (error: Error) => void,
  ) {}

  /** A checkpoint the store took: its copy waits for `copy`. */
  add(checkpoint: CheckpointDocument): void {
    // The anchor's own copy, without the store's id.
    const { _id, ...copy } = checkpoint;
    this.waiting.push(structuredClone(copy));
  }

  /** The number of the checkpoint being copied or next to be, if any waits. */
  get waitingFor(): number | undefined {
    return this.waiting[0]?.number;
  }

  /** Which hand-off to `anchor` is under way, if any: what `givenUp` takes. */
  get underWay(): number | undefined {
    return this.handedAt === undefined ? undefined : this.handOffs;
  }

  /**
   * A wait that began with `handOff` under way reached its deadline: if that copy still has not returned, `overdue`
   * names it from now on, whatever the clock says (a timer may fire a millisecond before `performance.now()` counts
   * its time as spent). A copy handed over during the wait was not waited for that long, and stays judged by the clock.
   */
  givenUp(handOff: number | undefined): void {
    if (handOff !== undefined && handOff === this.underWay) this.pastDeadline = handOff;
  }

  /** The number of the checkpoint whose copy was handed to `anchor` more than `ms` ago and has not returned, if any. */
  overdue(ms: number): number | undefined {
    if (this.handedAt === undefined) return undefined;
    return this.pastDeadline === this.handOffs || performance.now() - this.handedAt >= ms ? this.waitingFor : undefined;
  }

  /** Copies what waits; true once all are copied, false when one failed (reported; it waits for the next call). */
  async copy(): Promise<boolean> {
    for (;;) {
      this.copying ??= this.copyInOrder().finally(() => {
        this.copying = undefined;
      });
      const copied = await this.copying;
      // A checkpoint added while the copy under way was ending is not in it: once more for it.
      if (!copied || this.waiting.length === 0) return copied;
    }
  }

  private async copyInOrder(): Promise<boolean> {
    for (let next = this.waiting[0]; next; next = this.waiting[0]) {
      this.handOffs++;
      this.handedAt = performance.now();
      try {
        await this.anchor(next);
      } catch (error) {
        this.report(
          new ActionLogError(`Could not anchor integrity checkpoint ${next.number}; it is tried again with the next one`, { cause: error }),
        );
        return false;
      } finally {
        this.handedAt = undefined;
      }
      this.waiting.shift();
    }
    return true;
  }
}
