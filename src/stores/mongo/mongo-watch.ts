import type { MongoChangeStreamLike, MongoDocument } from './mongo-types.js';

/** After a settle delay, a few ms more: the reader's horizon must have moved when it wakes. */
const SLACK_MS = 20;

/**
 * Wakes `watch` listeners: at once after this store's writes; after other processes' writes through a change
 * stream where the server has them (a replica set), `settleMs` later, once stored order may pass them. Without
 * change streams (a standalone server, the test server) it falls back, silently, to this store's own writes.
 */
export class WriteWatch {
  private readonly listeners = new Set<() => void>();
  private stream: MongoChangeStreamLike | undefined;
  private opening = false;
  /** False once the server refused a change stream before delivering anything. */
  private streams = true;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private scheduledFor = 0;
  private latest = 0;
  private closed = false;

  constructor(
    private readonly open: () => Promise<MongoChangeStreamLike>,
    private readonly settleMs: number,
    /** Sequences other processes took, seen in their changes. */
    private readonly observe: (seq: number) => void,
  ) {}

  add(listener: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    this.follow();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.stop();
    };
  }

  /** Calls every listener; one that throws does not fail the write that woke it. */
  wake(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure belongs to the listener (the tail reports its own errors).
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.stop();
  }

  private follow(): void {
    if (this.stream || this.opening || !this.streams || this.closed) return;
    this.opening = true;
    this.open().then(
      (stream) => {
        this.opening = false;
        if (this.closed || this.listeners.size === 0) stream.close().catch(() => {});
        else this.listen(stream);
      },
      () => {
        this.opening = false;
        this.streams = false;
      },
    );
  }

  private listen(stream: MongoChangeStreamLike): void {
    let delivered = false;
    this.stream = stream;
    stream.on('error', () => {
      if (!delivered) this.streams = false;
      if (this.stream === stream) this.stream = undefined;
      stream.close().catch(() => {});
    });
    stream.on('change', (change) => {
      delivered = true;
      this.changed(change);
    });
  }

  private changed(change: MongoDocument): void {
    const seq = seqIn(change);
    if (seq !== undefined) this.observe(seq);
    this.latest = Date.now();
    if (!this.timer) this.schedule(this.latest);
  }

  /** One wake `settleMs` after the changes since `from`; changes during the wait get one more. */
  private schedule(from: number): void {
    this.scheduledFor = from;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.wake();
        if (this.latest > this.scheduledFor) this.schedule(this.latest);
      },
      Math.max(0, from + this.settleMs + SLACK_MS - Date.now()),
    );
    this.timer.unref();
  }

  private async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    await stream?.close().catch(() => {});
  }
}

/** The sequence a change stamped: an insert's document, or a request document merged in by a later write. */
function seqIn(change: MongoDocument): number | undefined {
  const full = change.fullDocument as MongoDocument | undefined;
  const updated = (change.updateDescription as { updatedFields?: MongoDocument } | undefined)?.updatedFields;
  const seq = Number(full?._seq ?? updated?._seq);
  return Number.isSafeInteger(seq) ? seq : undefined;
}
