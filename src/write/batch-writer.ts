import {
  ActionLogClosedError,
  ActionLogQueueFullError,
  ActionLogStoreError,
  ActionLogQuarantineError,
  errorSummary,
} from '../shared/errors.js';
import type { IntegrityLink } from '../shared/document.js';
import type { QuarantinedDocument, WriteStep } from './write-step.js';
import { DropReport } from './drop-report.js';
import { finishesWithin } from '../shared/deadline.js';

export interface WriterOptions {
  batchSize: number;
  /** Most items in one batch: what waits beyond `batchSize` (the writer fell behind a slow store) goes in one write. */
  maxBatchSize: number;
  flushIntervalMs: number;
  maxQueueSize: number;
  onQueueFull: 'drop-newest' | 'drop-oldest';
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** Refused documents kept for `quarantined()`; older ones are let go (still counted). */
  maxQuarantine: number;
  /** Batches written at once: a further one starts only when a full batch (or a flush) waits behind those in progress. */
  concurrentWrites: number;
}

/** A batch as store calls, and which queued item each primary document (request document, append, activity) stands for. */
export interface BuiltBatch {
  steps: WriteStep[];
  itemOf(document: unknown): number | undefined;
  /** Items the build left out (and reported): counted as dropped, never as stored. */
  leftOut?: number;
}

export interface WriterHooks<Item> {
  /**
   * Turns queued items into store calls, possibly over several event-loop turns while `mayYield()` (false once a
   * batch of `maxBatchSize`, or half of `maxQueueSize`, waits behind this one: the writer is behind). Runs once per
   * batch; a retry repeats only the steps.
   */
  build(items: Item[], mayYield: () => boolean): BuiltBatch | Promise<BuiltBatch>;
  /** Items dropped before being built (queue full, closed) are handed back, so their owner can forget them. */
  discard?(items: Item[]): void;
  /** Documents built (and sealed) that will never be stored: their batch was dropped, or the store refused them. */
  lost?(documents: Iterable<{ integrity?: Partial<IntegrityLink> }>): void;
  /** Whether the store answers now (a ping). Without it, the writer judges from the writes themselves. */
  probe?(): Promise<boolean>;
  onError(error: Error): void;
}

/** Counters of the writer, as documents (request documents, appends and activities). */
export interface WriterStats {
  /** Handed to the writer. */
  recorded: number;
  /** Written to the store. */
  stored: number;
  /** Store calls retried. */
  retried: number;
  /** Lost: queue full, closed with a deadline, or the store kept failing past `maxRetries`. */
  dropped: number;
  /** Refused by the store while the rest of their batch was stored; see `quarantined()`. */
  quarantined: number;
  /** Waiting or being written now (with a spool: in the spool, not stored yet). */
  queued: number;
  /** With the `spool` option: its counters. */
  spool?: SpoolStats;
}

/** Counters of the spool, in `stats().spool`. */
export interface SpoolStats {
  /** Documents in the spool not stored yet (`health().spool.depth`). */
  pending: number;
  /** Documents appended to the spool file. */
  spooled: number;
  /** Documents read back from the spool file to be stored (a backlog, or another process's file adopted at start). */
  replayed: number;
  /** Documents lost to the `policy` when the spool was full (`maxBytes`). */
  dropped: number;
  /** Lines skipped because their checksum failed (cut by a crash in the middle of their write). */
  torn: number;
  /** Bytes of the spool files on disk. */
  bytes: number;
  /** Bytes of the spooled lines whose documents are in memory, handed to the store writer (16 MiB at most, or one longer line). */
  memoryBytes: number;
  /** Age of the oldest spooled document not stored yet (ms), as far as known; null when there is none. */
  oldestAgeMs: number | null;
}

interface Entry<Item> {
  seq: number;
  item: Item;
}

/** How often a store is asked whether it answers again while the writer waits out a backoff. */
const PROBE_EVERY_MS = 1000;

/**
 * Batches items off the hot path and writes them, retrying with backoff: one batch at a time while the store keeps
 * up, up to `concurrentWrites` at once while full batches wait (built one after the other, in order; a step marked
 * `ordered` waits for the batches before its own). `enqueue` only pushes to an array; all work happens later on a
 * timer or an immediate. A document the store refuses is found by halving its batch and quarantined, so that it
 * never costs the others their place.
 */
export class BatchWriter<Item> {
  private queue: Array<Entry<Item>> = [];
  /**
   * Batches being written, oldest first, by their first sequence and size: once built, a batch's items are let go,
   * so that what a request captured does not outlive its build while a slow store takes its time (it would
   * survive the young generation's collections and be copied by each).
   */
  private inFlight: Array<{ seq: number; size: number }> = [];
  /** Settles once the newest batch started and every batch before it have finished. */
  private lastBatch: Promise<void> = Promise.resolve();
  private nextSeq = 1;
  private waiters: Array<{ seq: number; resolve: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private draining = false;
  private closed = false;
  /** Closed with a deadline that passed: nothing more is retried. */
  private abandoned = false;
  /** Ends the backoffs under way (closed past a deadline). */
  private readonly wakers = new Set<() => void>();
  private readonly counters = { recorded: 0, stored: 0, retried: 0, dropped: 0, quarantined: 0 };
  private readonly quarantine: QuarantinedDocument[] = [];
  private readonly drops = new DropReport((dropped) => {
    this.report(new ActionLogQueueFullError(this.options.maxQueueSize, dropped));
  });

  /** Queued items at which a build stops yielding (see `mayYield`). */
  private readonly behindAt: number;
  /**
   * The most items the writes in flight hold together. With drop-oldest, half of `maxQueueSize`, so that the other
   * half stays queued and has the oldest to drop (items in flight cannot be; with none queued, the newest goes).
   */
  private readonly inFlightMax: number;

  constructor(
    private readonly options: WriterOptions,
    private readonly hooks: WriterHooks<Item>,
  ) {
    const half = Math.ceil(options.maxQueueSize / 2);
    this.inFlightMax = options.onQueueFull === 'drop-oldest' ? half : options.maxQueueSize;
    this.behindAt = Math.min(options.maxBatchSize, half);
  }

  /** Queues one item; returns false when it was dropped because the queue is full. */
  enqueue(item: Item): boolean {
    if (this.closed) throw new ActionLogClosedError();
    this.counters.recorded++;
    if (this.queue.length + this.inFlightCount >= this.options.maxQueueSize) {
      if (this.options.onQueueFull === 'drop-newest' || this.queue.length === 0) {
        this.drop([item]);
        return false;
      }
      this.drop(this.queue.splice(0, 1).map((e) => e.item));
    }
    this.queue.push({ seq: this.nextSeq++, item });
    this.schedule();
    return true;
  }

  /** Resolves once everything enqueued before the call is written, quarantined or dropped. */
  flush(): Promise<void> {
    const target = this.nextSeq - 1;
    if (this.lowestPending() > target) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ seq: target, resolve }));
    this.startNow();
    return done;
  }

  /**
   * Writes what is queued, then refuses new items. With `timeoutMs`, gives up waiting at the deadline: what is
   * still queued is dropped (counted and reported) and its number returned; 0 when everything was written.
   */
  async close(timeoutMs?: number): Promise<number> {
    const drained = this.flush();
    this.closed = true;
    this.drops.flush();
    if (timeoutMs === undefined) {
      await drained;
      return 0;
    }
    if (await finishesWithin(drained, timeoutMs)) return 0;
    const left = this.queue.length + this.inFlightCount;
    this.abandoned = true;
    for (const wake of this.wakers) wake();
    const queued = this.queue.splice(0);
    if (queued.length > 0)
      this.drop(
        queued.map((e) => e.item),
        `closed with ${left} documents not yet stored`,
      );
    return left;
  }

  /**
   * Writes a batch built by the caller now, each step once, on the caller's path (failure policy `'throw'`):
   * counted when stored; on failure rejects with `ActionLogStoreError` and counts nothing (the caller decides).
   */
  async writeNow(built: BuiltBatch, documents: number): Promise<void> {
    if (this.closed) throw new ActionLogClosedError();
    try {
      for (const step of built.steps) await step.run();
    } catch (error) {
      const failure = new ActionLogStoreError(`The store write failed; ${documents} documents are not stored`, documents, { cause: error });
      this.report(failure);
      throw failure;
    }
    this.counters.recorded += documents;
    this.counters.stored += documents;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): WriterStats {
    return { ...this.counters, queued: this.queue.length + this.inFlightCount };
  }

  /** Documents the store refused, newest last (at most `maxQuarantine`). */
  quarantined(): QuarantinedDocument[] {
    return [...this.quarantine];
  }

  private schedule(): void {
    if (this.draining) return;
    if (this.queue.length >= this.options.batchSize || this.options.flushIntervalMs === 0) {
      this.startNow();
    } else
      this.timer ??= setTimeout(() => {
        this.startNow();
      }, this.options.flushIntervalMs);
  }

  private startNow(): void {
    if (this.draining || this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const writes = new Set<Promise<void>>();
    try {
      // What arrived during a write waits for its own timer unless it fills a batch or someone waits for it:
      // back-to-back small batches would cost the database a command every few requests.
      for (let first = true; ; first = false) {
        while (
          this.queue.length > 0 &&
          writes.size < this.options.concurrentWrites &&
          this.inFlightCount < this.inFlightMax &&
          (first || this.queue.length >= this.options.batchSize || this.mustWriteNow())
        ) {
          first = false;
          // Built here, one batch after the other: the batches' order is the order they were built in.
          const { batch, built } = await this.nextBatch();
          const write: Promise<void> = this.writeBuilt(batch, built, this.lastBatch).finally(() => writes.delete(write));
          this.lastBatch = write;
          writes.add(write);
        }
        if (writes.size === 0) break;
        await Promise.race(writes);
      }
    } finally {
      this.draining = false;
      this.settleWaiters();
      if (this.queue.length > 0) this.schedule();
    }
  }

  /**
   * Takes what waits as a batch in flight and builds it. Everything that waits, up to maxBatchSize: a store slower
   * than the requests then gets fewer, larger writes, and the writer keeps up instead of queuing without end (and
   * dropping at maxQueueSize). Its own frame, so that the queued items are let go once built (a variable of
   * `drain`'s would hold them while the batch is written).
   */
  private async nextBatch(): Promise<{ batch: { seq: number; size: number }; built: BuiltBatch | undefined }> {
    const entries = this.queue.splice(0, Math.min(this.options.maxBatchSize, this.inFlightMax - this.inFlightCount));
    const batch = { seq: entries[0]?.seq ?? this.nextSeq, size: entries.length };
    this.inFlight.push(batch);
    return { batch, built: await this.build(entries.map((e) => e.item)) };
  }

  /** Writes a built batch (a failed build is dropped), then takes it off the batches in flight. Never rejects. */
  private async writeBuilt(batch: { seq: number; size: number }, built: BuiltBatch | undefined, earlier: Promise<void>): Promise<void> {
    const outcome = built ? await this.writeBatch(built, batch.size, earlier) : { stored: 0, dropped: batch.size };
    const leftOut = outcome.stored > 0 ? (built?.leftOut ?? 0) : 0;
    this.counters.stored += outcome.stored - leftOut;
    this.counters.dropped += outcome.dropped + leftOut;
    this.inFlight.splice(this.inFlight.indexOf(batch), 1);
    this.settleWaiters();
  }

  /**
   * Whether a build may let the event loop turn: not while a batch of the largest size waits, nor half of what the
   * queue holds before it drops (which may be less), or the writer would fall behind for good. Below that, the next
   * write takes what waited (up to maxBatchSize) and catches up.
   */
  private readonly mayYield = (): boolean => this.queue.length < this.behindAt;

  private mustWriteNow(): boolean {
    return this.waiters.length > 0 || this.closed || this.options.flushIntervalMs === 0;
  }

  /** The batch's store calls; undefined (reported) when they could not be built. */
  private async build(items: Item[]): Promise<BuiltBatch | undefined> {
    try {
      return await this.hooks.build(items, this.mayYield);
    } catch (error) {
      this.report(new ActionLogStoreError(`Could not build ${items.length} documents; they are dropped`, items.length, { cause: error }));
      return undefined;
    }
  }

  private async writeBatch(built: BuiltBatch, items: number, earlier: Promise<void>): Promise<{ stored: number; dropped: number }> {
    const refused = new Set<number>();
    for (const step of built.steps) {
      if (step.ordered) await earlier;
      const written = await this.writeStep(step, items, (document) => {
        const index = built.itemOf(document);
        if (index !== undefined) refused.add(index);
      });
      if (!written) {
        // All of the batch, also what earlier steps stored: they are counted dropped, and never confirmed.
        this.hooks.lost?.(built.steps.flatMap((s) => [...s.documents()]));
        return { stored: 0, dropped: items };
      }
    }
    return { stored: items - refused.size, dropped: 0 };
  }

  /** Writes one step, retrying with backoff while the store is away; false when it gave up (the batch is dropped). */
  private async writeStep(step: WriteStep, documents: number, refused: (document: unknown) => void): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        await step.run();
        return true;
      } catch (error) {
        failure = error;
      }
      // The store refused the write: is it away, or is a document of the batch at fault?
      if (!this.abandoned && step.size > 0 && (await this.storeAnswers(step, attempt))) {
        if (step.size > 1 && (await this.isolate(step, refused)) === 'isolated') return true;
        // A lone document refused twice by a store that answers is at fault (once may be a passing glitch).
        if (step.size === 1 && attempt >= 1) {
          this.quarantineOne(step, failure, refused);
          return true;
        }
      }
      if (this.abandoned || attempt >= this.options.maxRetries) {
        const why = this.abandoned ? 'the logger closed before it could be stored' : `the store write failed ${attempt + 1} times`;
        this.report(new ActionLogStoreError(`${why}; ${documents} documents are dropped`, documents, { cause: failure }));
        return false;
      }
      this.counters.retried++;
      this.report(new ActionLogStoreError(`Store write failed (attempt ${attempt + 1}), retrying`, documents, { cause: failure }));
      await this.pause(this.backoff(attempt));
    }
  }

  /**
   * Whether the store answers, so that a failure must come from the batch: its ping says so; without one, a
   * batch that failed twice is cut in halves, and the halves tell (a single document cannot be judged that way).
   */
  private async storeAnswers(step: WriteStep, attempt: number): Promise<boolean> {
    if (this.hooks.probe) return this.hooks.probe().catch(() => false);
    return step.size > 1 && attempt >= 1;
  }

  /** Writes the halves of a refused step, down to the documents the store refuses, which are quarantined. */
  private async isolate(step: WriteStep, refused: (document: unknown) => void): Promise<'isolated' | 'down'> {
    const halves = step.split();
    const failures: unknown[] = [];
    for (const half of halves) {
      try {
        await half.run();
        failures.push(undefined);
      } catch (error) {
        failures.push(error ?? new Error('refused'));
      }
    }
    const stored = failures.some((f) => f === undefined);
    if (!stored && !(this.hooks.probe && (await this.hooks.probe().catch(() => false)))) return 'down';
    for (const [i, half] of halves.entries()) {
      if (failures[i] === undefined) continue;
      if (half.size > 1) {
        if ((await this.isolate(half, refused)) === 'down') return 'down';
      } else {
        // Once more before the quarantine: a passing glitch should not cost a document its place.
        const again = await half.run().then(
          () => undefined,
          (error: unknown) => error ?? failures[i],
        );
        if (again !== undefined) this.quarantineOne(half, again, refused);
      }
    }
    return 'isolated';
  }

  private quarantineOne(step: WriteStep, error: unknown, refused: (document: unknown) => void): void {
    const entry: QuarantinedDocument = Object.assign(step.only(), { error: errorSummary(error), at: new Date() });
    this.counters.quarantined++;
    this.quarantine.push(entry);
    if (this.quarantine.length > this.options.maxQuarantine) this.quarantine.shift();
    refused(entry.document);
    this.hooks.lost?.(step.documents());
    this.report(new ActionLogQuarantineError(entry.kind, entry.request_uuid, { cause: error }));
  }

  /** Waits out a backoff, ending it at once when the store answers again (or the writer is abandoned). */
  private async pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.abandoned && Date.now() < until) {
      let wake = () => {};
      await new Promise<void>((resolve) => {
        // Never negative (Node warns): the clock may have reached `until` since the loop's check.
        const timer = setTimeout(resolve, Math.max(0, Math.min(PROBE_EVERY_MS, until - Date.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.wakers.add(wake);
      });
      this.wakers.delete(wake);
      if (this.hooks.probe && Date.now() < until && (await this.hooks.probe().catch(() => false))) return;
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.options.maxRetryDelayMs, this.options.retryDelayMs * 2 ** attempt);
    return base / 2 + Math.random() * (base / 2);
  }

  private drop(items: Item[], why?: string): void {
    this.counters.dropped += items.length;
    this.hooks.discard?.(items);
    this.settleWaiters();
    if (why) {
      this.report(new ActionLogStoreError(`${why}; ${items.length} documents are dropped`, items.length));
      return;
    }
    this.drops.count(items.length);
  }

  /** Documents of the batches being written (at most `concurrentWrites` batches). */
  private get inFlightCount(): number {
    let count = 0;
    for (const batch of this.inFlight) count += batch.size;
    return count;
  }

  private lowestPending(): number {
    return this.inFlight[0]?.seq ?? this.queue[0]?.seq ?? this.nextSeq;
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const lowest = this.lowestPending();
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (waiter.seq < lowest) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  private report(error: Error): void {
    try {
      this.hooks.onError(error);
    } catch {
      // An onError that throws must not stop the writer.
    }
  }
}
