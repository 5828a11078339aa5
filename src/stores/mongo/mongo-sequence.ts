import { performance } from 'node:perf_hooks';
import { ActionLogStoreError } from '../../shared/errors.js';
import type { MongoCollectionLike } from './mongo-types.js';

/** A range of the counter one write attempt numbers its documents with. */
export interface SeqRange {
  first: number;
  last: number;
}

interface Held extends SeqRange {
  /** When the range stops holding readers back: never while the write runs; `settleMs` after it failed. */
  until: number;
}

const COUNTER_ID = 'seq';

/**
 * The order in which entries became visible, for `tail`. MongoDB has no commit sequence (short of change streams):
 * each write attempt takes a range of a counter document (`$inc`) and stamps it on what it inserts. Writes commit
 * out of that order, so a reader returns only sequences up to a horizon that no write in flight can land under:
 * below the lowest range this process is still writing, and, for other processes, no further than the counter as
 * it was `settleMs` ago (a write is assumed to land within `settleMs` of taking its range), or through ranges this
 * process wrote itself.
 */
export class WriteSequence {
  private readonly held: Held[] = [];
  /** Ranges this process wrote, above the settled counter, in order. */
  private readonly written: SeqRange[] = [];
  /** Counter values seen, oldest first, with when: every sequence up to a value was taken by then. */
  private readonly seen: Array<{ at: number; value: number }> = [];

  constructor(
    private readonly counters: () => MongoCollectionLike,
    private readonly settleMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `n` sequences for one write attempt; the range holds readers back until `release`. */
  async reserve(n: number): Promise<SeqRange> {
    const counter = await this.counters().findOneAndUpdate(
      { _id: COUNTER_ID },
      { $inc: { value: n } },
      { upsert: true, returnDocument: 'after' },
    );
    const last = Number(counter?.value);
    if (!Number.isSafeInteger(last)) throw new ActionLogStoreError('MongoStore: the write counter did not return its value', 0);
    this.observe(last);
    const range: Held = { first: last - n + 1, last, until: Infinity };
    this.held.push(range);
    return range;
  }

  /** The attempt is over: its range is passable now, or, when it failed, once a late landing is past (`settleMs`). */
  release(range: SeqRange, stored: boolean): void {
    const held = this.held.find((h) => h === range);
    if (!held) return;
    if (stored) this.passable(held);
    else held.until = this.now() + this.settleMs;
  }

  /** A counter value known to be taken now (from a reply, or a change another process made). */
  observe(value: number, at = this.now()): void {
    if (!Number.isSafeInteger(value)) return;
    const latest = this.seen.at(-1);
    if (latest && latest.value >= value) return;
    this.seen.push({ at, value });
  }

  /** The highest sequence a reader may return now; reads the counter first, so that time settles what it saw. */
  async horizon(): Promise<number> {
    const counter = await this.counters().findOne({ _id: COUNTER_ID });
    this.observe(Number(counter?.value ?? 0));
    return this.horizonAt(this.now());
  }

  private horizonAt(now: number): number {
    for (const held of this.held.filter((h) => h.until <= now)) this.passable(held);
    let horizon = this.settled(now);
    // Through the ranges this process wrote, as long as no other process's sequence lies between.
    for (const range of this.written) {
      if (range.first > horizon + 1) break;
      horizon = Math.max(horizon, range.last);
    }
    const inFlight = Math.min(...this.held.map((h) => h.first));
    return Math.min(horizon, inFlight - 1);
  }

  /** The counter as seen `settleMs` ago or earlier: every write numbered up to it has landed. */
  private settled(now: number): number {
    const cutoff = now - this.settleMs;
    let count = 0;
    while ((this.seen[count]?.at ?? Infinity) <= cutoff) count++;
    // Only the latest settled value matters from now on.
    if (count > 1) this.seen.splice(0, count - 1);
    const value = count > 0 ? (this.seen[0]?.value ?? 0) : 0;
    while ((this.written[0]?.last ?? Infinity) <= value) this.written.shift();
    return value;
  }

  private passable(held: Held): void {
    this.held.splice(this.held.indexOf(held), 1);
    const at = this.written.findIndex((range) => range.first > held.first);
    this.written.splice(at === -1 ? this.written.length : at, 0, { first: held.first, last: held.last });
  }
}
