import { ActionLogClosedError, ActionLogQueueFullError, ActionLogStoreError } from '../shared/errors.js';

export interface WriterOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxQueueSize: number;
  onQueueFull: 'drop-newest' | 'drop-oldest';
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

/** One step of writing a batch (write the documents, then the appends); retried on its own. */
export type WriteStep = () => Promise<void>;

export interface WriterHooks<Item> {
  /** Turns queued items into store calls. Runs once per batch; a retry repeats only the steps. */
  build(items: Item[]): WriteStep[];
  /** Items dropped before being built (queue full) are handed back, so their owner can forget them. */
  discard?(items: Item[]): void;
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
  /** Lost: queue full, or the store kept failing past `maxRetries`. */
  dropped: number;
  /** Waiting or being written now. */
  queued: number;
}

interface Entry<Item> {
  seq: number;
  item: Item;
}

/**
 * Batches items off the hot path and writes them one batch at a time, in order, retrying with backoff.
 * `enqueue` only pushes to an array; all work happens later on a timer or an immediate.
 */
export class BatchWriter<Item> {
  private queue: Array<Entry<Item>> = [];
  private inFlight: Array<Entry<Item>> = [];
  private nextSeq = 1;
  private waiters: Array<{ seq: number; resolve: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private draining = false;
  private closed = false;
  private readonly counters = { recorded: 0, stored: 0, retried: 0, dropped: 0 };

  constructor(
    private readonly options: WriterOptions,
    private readonly hooks: WriterHooks<Item>,
  ) {}

  /** Queues one item; returns false when it was dropped because the queue is full. */
  enqueue(item: Item): boolean {
    if (this.closed) throw new ActionLogClosedError();
    this.counters.recorded++;
    if (this.queue.length + this.inFlight.length >= this.options.maxQueueSize) {
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

  /** Resolves once everything enqueued before the call is written or dropped. */
  flush(): Promise<void> {
    const target = this.nextSeq - 1;
    if (this.lowestPending() > target) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ seq: target, resolve }));
    this.startNow();
    return done;
  }

  /** Writes what is queued, then refuses new items. */
  async close(): Promise<void> {
    const drained = this.flush();
    this.closed = true;
    await drained;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): WriterStats {
    return { ...this.counters, queued: this.queue.length + this.inFlight.length };
  }

  private schedule(): void {
    if (this.draining) return;
    if (this.queue.length >= this.options.batchSize || this.options.flushIntervalMs === 0) {
      this.startNow();
    } else if (!this.timer) {
      // Kept referenced: a script that records and returns still gets its documents written before exit.
      this.timer = setTimeout(() => {
        this.startNow();
      }, this.options.flushIntervalMs);
    }
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
    try {
      // What arrived during a write waits for its own timer unless it fills a batch or someone waits for it:
      // back-to-back small batches would cost the database a command every few requests.
      for (
        let first = true;
        this.queue.length > 0 && (first || this.queue.length >= this.options.batchSize || this.mustWriteNow());
        first = false
      ) {
        this.inFlight = this.queue.splice(0, this.options.batchSize);
        const items = this.inFlight.map((e) => e.item);
        const ok = await this.writeBatch(items);
        if (ok) this.counters.stored += items.length;
        else this.counters.dropped += items.length;
        this.inFlight = [];
        this.settleWaiters();
      }
    } finally {
      this.draining = false;
      this.settleWaiters();
      if (this.queue.length > 0) this.schedule();
    }
  }

  private mustWriteNow(): boolean {
    return this.waiters.length > 0 || this.closed || this.options.flushIntervalMs === 0;
  }

  private async writeBatch(items: Item[]): Promise<boolean> {
    let steps: WriteStep[];
    try {
      steps = this.hooks.build(items);
    } catch (error) {
      this.report(new ActionLogStoreError(`Could not build ${items.length} documents; they are dropped.`, items.length, { cause: error }));
      return false;
    }
    for (const step of steps) {
      for (let attempt = 0; ; attempt++) {
        try {
          await step();
          break;
        } catch (error) {
          if (attempt >= this.options.maxRetries) {
            this.report(
              new ActionLogStoreError(`Store write failed ${attempt + 1} times; ${items.length} documents are dropped.`, items.length, {
                cause: error,
              }),
            );
            return false;
          }
          this.counters.retried++;
          this.report(new ActionLogStoreError(`Store write failed (attempt ${attempt + 1}); retrying.`, items.length, { cause: error }));
          await sleep(this.backoff(attempt));
        }
      }
    }
    return true;
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.options.maxRetryDelayMs, this.options.retryDelayMs * 2 ** attempt);
    return base / 2 + Math.random() * (base / 2);
  }

  private drop(items: Item[]): void {
    this.counters.dropped += items.length;
    this.hooks.discard?.(items);
    this.report(new ActionLogQueueFullError(this.options.maxQueueSize));
    this.settleWaiters();
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
