import { setTimeout as sleep } from 'node:timers/promises';
import { ActionLogClosedError, ActionLogConfigError, ActionLogSpoolFullError, ActionLogStoreError } from '../../shared/errors.js';
import { BatchWriter, type BuiltBatch, type SpoolStats, type WriterOptions, type WriterStats } from '../batch-writer.js';
import type { DocumentUnit } from '../document-unit.js';
import { documentsOf } from '../../shared/batch-units.js';
import type { IntegrityLink } from '../../shared/document.js';
import { DropReport } from '../drop-report.js';
import { finishesWithin } from '../../shared/deadline.js';
import { type QuarantinedDocument, setupStep, type WriteStep } from '../write-step.js';
import { type LinkRun, SpoolFiles, type SpoolFileOptions, type SpoolPlace } from './spool-files.js';
import { encodeLine, type SpooledUnit } from './spool-line.js';

/** The `spool` option, resolved. */
export interface SpoolOptions extends SpoolFileOptions {
  policy: 'block' | 'drop-newest' | 'drop-oldest';
  blockTimeoutMs: number;
}

export interface SpoolHooks<Item> {
  /** One item's documents, built; runs in the writer's turn, never on the recording call. */
  unit(item: Item): DocumentUnit;
  /** Items whose documents were dropped before being built, so their owner can forget them. */
  discard?(items: Item[]): void;
  /**
   * The store calls that store these units (in order), as the writer without a spool makes them; `authentic`: those
   * read back from lines whose MAC holds (see `SpooledUnit`).
   */
  steps(units: DocumentUnit[], authentic: ReadonlySet<DocumentUnit>): WriteStep[];
  /**
   * Documents that will never be stored (the store refused them, their store calls failed, the policy dropped them):
   * those built (and sealed) here, and those read back from lines whose MAC holds, another writer's included.
   */
  lost?(documents: Iterable<{ integrity?: Partial<IntegrityLink> }>): void;
  probe?(): Promise<boolean>;
  onError(error: Error): void;
}

interface Arrived<Item> {
  item: Item;
  seq: number;
  at: number;
}

interface Waiting<Item> extends Arrived<Item> {
  unit: DocumentUnit;
  line: string;
  bytes: number;
}

interface Held {
  unit: DocumentUnit;
  place: SpoolPlace;
  /** Its line's bytes: about what its documents take in memory. */
  bytes: number;
  /** Read back from a line whose MAC holds. */
  authentic: boolean;
}

/**
 * The most bytes of spooled lines handed to the store writer at once (at least one line, whatever its size): with
 * documents of up to `maxDocumentBytes` (8 MiB), a cap on their number alone would not bound memory.
 */
export const SPOOL_MEMORY_BYTES = 16 * 1024 * 1024;

/** How often documents waiting for room (`policy: 'block'`) look again. */
const BLOCK_RETRY_MS = 20;

/**
 * The writer with a durable spool: every document is built in the writer's turn right after it is recorded and
 * appended to the spool file before its store write, then stored in batches by a `BatchWriter` that never gives up
 * (a store that is away is waited for). Once stored, its line is settled; a segment whose lines are all settled
 * is deleted. What the process did not store when it died is replayed by the next one, from the file.
 */
export class SpooledWriter<Item> {
  private readonly files: SpoolFiles;
  private readonly inner: BatchWriter<Held>;
  private arrived: Array<Arrived<Item>> = [];
  private waiting: Array<Waiting<Item>> = [];
  private immediate: NodeJS.Immediate | undefined;
  /** What the callers of `spoolSoon` in this turn wait for: the next `spoolArrived`. */
  private turn: { spooled: Promise<void>; resolve: () => void } | undefined;
  private blockTimer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private seq = 0;
  private closed = false;
  private closingLate = false;
  /** The store failed a write and has not stored anything since: new documents stay in the files (droppable). */
  private storeAway = false;
  private tornSeen = 0;
  /** Units in the spool not settled yet. */
  private held = 0;
  /** Units handed to the store writer and not settled yet, and their lines' bytes. */
  private inMemory = 0;
  private inMemoryBytes = 0;
  private readonly memoryCap: number;
  private readonly batchSize: number;
  private readonly counters = { recorded: 0, spooled: 0, replayed: 0, dropped: 0 };
  /** Documents read back from lines whose MAC does not hold: never said lost (see `SpoolHooks.lost`). */
  private readonly unvouched = new WeakSet<object>();
  private readonly drops = new DropReport((dropped) => {
    this.report(new ActionLogSpoolFullError(this.spool.maxBytes, dropped));
  });

  constructor(
    options: WriterOptions,
    private readonly spool: SpoolOptions,
    private readonly hooks: SpoolHooks<Item>,
  ) {
    // Kept small: while a store hangs (its writes neither succeed nor fail), what it was handed stays in memory; the
    // rest of the backlog waits on disk. A store that is only slow is fed from the files beyond this.
    this.memoryCap = Math.max(4 * options.batchSize, 64);
    this.batchSize = options.batchSize;
    this.files = new SpoolFiles(spool, (error) => {
      this.report(error);
    });
    try {
      this.held = this.files.open((lines) => {
        this.held += lines;
        void this.pump();
      }).adopted;
    } catch (error) {
      throw new ActionLogConfigError([{ path: 'spool.dir', message: `cannot be used: ${(error as Error).message}` }]);
    }
    const never = Number.MAX_SAFE_INTEGER;
    this.inner = new BatchWriter<Held>(
      // One write at a time: a segment's lines are settled in the order they were written.
      { ...options, maxRetries: never, maxQueueSize: never, concurrentWrites: 1 },
      {
        build: (items) => this.build(items),
        probe: hooks.probe && (() => hooks.probe?.() ?? Promise.resolve(false)),
        // Closed past its deadline, what the store writer drops stays in the spool: not lost.
        lost: (documents) => {
          if (!this.closingLate) this.lost(documents);
        },
        onError: (error) => {
          if (error instanceof ActionLogStoreError) this.storeAway = true;
          // Closed past its deadline, the store writer drops its queue: those documents stay in the spool.
          if (!(this.closingLate && error instanceof ActionLogStoreError)) this.report(error);
        },
      },
    );
    if (this.held > 0) void this.pump();
  }

  /** Queues one item: a push; building and the spool write happen in the writer's next turn. */
  enqueue(item: Item): boolean {
    if (this.closed) throw new ActionLogClosedError();
    this.counters.recorded++;
    this.arrived.push({ item, seq: ++this.seq, at: Date.now() });
    this.immediate ??= setImmediate(() => {
      this.immediate = undefined;
      this.spoolArrived();
    });
    return true;
  }

  /**
   * Queues one item; resolves once it, with everything else that arrived in this event-loop turn, is built and in
   * the spool (one write for all of them, in the writer's turn), or waits for room, or is dropped by the policy.
   */
  spoolSoon(item: Item): Promise<void> {
    this.enqueue(item);
    if (!this.turn) {
      let resolve!: () => void;
      const spooled = new Promise<void>((done) => {
        resolve = done;
      });
      this.turn = { spooled, resolve };
    }
    return this.turn.spooled;
  }

  /**
   * Resolves once everything enqueued before the call (and everything adopted at start, or by a look for dead
   * processes' files under way at the call) is stored or dropped, and the spool files that held only such documents
   * are deleted.
   */
  async flush(): Promise<void> {
    this.spoolArrived();
    const target = this.seq;
    // What a look for dead processes' files under way adopts is stored too, as when it had been done already.
    await this.files.adoptions();
    let position: number | undefined;
    for (;;) {
      // Once every item up to the target is in the spool (or dropped), the spool must be settled that far.
      const firstUnplaced = this.arrived[0]?.seq ?? this.waiting[0]?.seq ?? Number.POSITIVE_INFINITY;
      if (position === undefined && firstUnplaced > target) position = this.files.writePos;
      if (position !== undefined && this.files.settledPos() >= position) {
        this.files.dropSettled();
        // A stored segment is deleted in the background (off the requests' path); flushed means gone from the folder.
        await this.files.deleted();
        return;
      }
      if (this.closingLate) return;
      const before = this.files.settledPos();
      await this.inner.flush();
      await this.pump();
      if (this.files.settledPos() === before) await sleep(BLOCK_RETRY_MS);
    }
  }

  /**
   * Stores what is spooled, then refuses new items. With `timeoutMs`, stops at the deadline: what is not stored
   * stays in the spool for the next start (documents waiting for room are dropped); returns how many are left.
   */
  async close(timeoutMs?: number): Promise<number> {
    if (this.closed) return 0;
    this.spoolArrived();
    this.closed = true;
    // What a dead process left, adopted now, would not be waited for: it stays under its owner's name.
    this.files.stopAdopting();
    const drained = this.flush();
    const inTime = timeoutMs === undefined ? await drained.then(() => true) : await finishesWithin(drained, timeoutMs);
    let left = 0;
    if (!inTime) {
      this.closingLate = true;
      // Documents waiting for room are not stored either: dropped now (counted, reported), and in `left`.
      const waiting = this.waiting.splice(0);
      this.dropWaiting(waiting);
      const spooled = this.held;
      left = spooled + waiting.length;
      await this.inner.close(0);
      // The store writer let go of what it held (a write still under way is the store's, and no longer counted).
      this.inMemory = 0;
      this.inMemoryBytes = 0;
      if (spooled > 0)
        this.report(
          new ActionLogStoreError(
            `closed with ${spooled} documents not stored; they stay in the spool (${this.spool.dir}) and are stored at the next start`,
            spooled,
          ),
        );
    } else await this.inner.close();
    clearTimeout(this.blockTimer);
    this.files.close();
    this.drops.flush();
    return left;
  }

  /** A batch written on the caller's path, past the spool: the failure policy `'throw'`, which a spool excludes. */
  writeNow(built: BuiltBatch, documents: number): Promise<void> {
    return this.inner.writeNow(built, documents);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): WriterStats & { spool: SpoolStats } {
    const inner = this.inner.stats();
    const oldest = this.oldestAt();
    return {
      recorded: this.counters.recorded,
      stored: inner.stored,
      retried: inner.retried,
      dropped: this.counters.dropped,
      quarantined: inner.quarantined,
      queued: this.held + this.arrived.length + this.waiting.length,
      spool: {
        pending: this.held,
        spooled: this.counters.spooled,
        replayed: this.counters.replayed,
        dropped: this.counters.dropped,
        torn: this.files.torn,
        bytes: this.files.bytes,
        memoryBytes: this.inMemoryBytes,
        oldestAgeMs: oldest === undefined ? null : Math.max(0, Date.now() - oldest),
      },
    };
  }

  /**
   * At process exit: what was recorded but not spooled yet is spooled now (synchronously), so that the next start
   * stores it. Returns how many documents could not be kept.
   */
  spoolBeforeExit(): number {
    if (this.closed) return 0;
    this.closingLate = true;
    this.files.stopAdopting();
    this.spoolArrived();
    const lost = this.waiting.length;
    this.dropWaiting(this.waiting.splice(0));
    this.files.close();
    return lost;
  }

  quarantined(): QuarantinedDocument[] {
    return this.inner.quarantined();
  }

  private oldestAt(): number | undefined {
    return this.files.oldestAt() ?? this.waiting[0]?.at ?? this.arrived[0]?.at;
  }

  /** Builds what arrived and appends it to the spool (or lets it wait for room, or drops it, by the policy). */
  private spoolArrived(): void {
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    const turn = this.turn;
    this.turn = undefined;
    try {
      this.buildArrived();
    } finally {
      turn?.resolve();
    }
  }

  private buildArrived(): void {
    for (const a of this.arrived.splice(0)) {
      let unit: DocumentUnit | undefined;
      let line: string;
      try {
        unit = this.hooks.unit(a.item);
        line = encodeLine(unit, a.at, this.spool.mac);
      } catch (error) {
        if (unit) this.lose(unit);
        this.counters.dropped++;
        this.report(new ActionLogStoreError('Could not build a document; it is dropped', 1, { cause: error }));
        continue;
      }
      this.waiting.push({ ...a, unit, line, bytes: Buffer.byteLength(line, 'utf8') });
    }
    this.placeWaiting();
  }

  private placeWaiting(): void {
    const lines: Array<Waiting<Item>> = [];
    let bytes = this.files.bytes;
    for (let w = this.waiting[0]; w; w = this.waiting[0]) {
      if (bytes + w.bytes > this.spool.maxBytes) {
        if (this.spool.policy === 'drop-oldest' && lines.length > 0) {
          // The lines of this turn go to the files first: the oldest of them may be what has to go.
          this.append(lines.splice(0));
          bytes = this.files.bytes;
          continue;
        }
        const adoptedLinks: Array<{ integrity?: Partial<IntegrityLink> }> = [];
        const freed = this.spool.policy === 'drop-oldest' ? this.files.dropOldest(collectVouched(adoptedLinks)) : undefined;
        if (freed !== undefined) {
          this.held -= freed.lines;
          this.countDrops(freed.lines);
          if (freed.links) this.hooks.lost?.(linksIn(freed.links));
          if (adoptedLinks.length > 0) this.hooks.lost?.(adoptedLinks);
          bytes = this.files.bytes + lines.reduce((sum, l) => sum + l.bytes, 0);
          continue;
        }
        if (this.spool.policy === 'block' && !this.closingLate && Date.now() - w.at < this.spool.blockTimeoutMs) break;
        this.dropWaiting(this.waiting.splice(0, 1));
        continue;
      }
      bytes += w.bytes;
      lines.push(w);
      this.waiting.shift();
    }
    if (lines.length > 0) this.append(lines);
    if (this.waiting.length > 0)
      this.blockTimer ??= setTimeout(() => {
        this.blockTimer = undefined;
        this.placeWaiting();
      }, BLOCK_RETRY_MS);
  }

  private append(lines: Array<Waiting<Item>>): void {
    // After a stall, what another process took meanwhile is settled first: what this one spools again of it is older.
    this.held += this.files.checkLease();
    // Kept in memory only while nothing older waits in the files: the store gets them in order.
    const bytes = lines.reduce((sum, l) => sum + l.bytes, 0);
    const handOut =
      !this.storeAway &&
      !this.reading &&
      !this.files.hasBacklog() &&
      this.inMemory + lines.length <= this.memoryCap &&
      this.inMemoryBytes + bytes <= SPOOL_MEMORY_BYTES;
    let places: SpoolPlace[];
    try {
      places = this.files.append(
        lines.map((l) => ({ text: l.line, at: l.at, links: linkRunOf(l.unit) })),
        handOut,
      );
    } catch (error) {
      // The disk refused (full, gone): these documents cannot be kept.
      this.dropWaiting(lines, error);
      return;
    }
    this.counters.spooled += lines.length;
    this.held += lines.length;
    if (!handOut) {
      void this.pump();
      return;
    }
    this.inMemory += lines.length;
    this.inMemoryBytes += bytes;
    for (const [i, l] of lines.entries()) {
      const place = places[i];
      if (place) this.inner.enqueue({ unit: l.unit, place, bytes: l.bytes, authentic: false });
    }
  }

  /** Reads the backlog back into the store writer, as far as its memory allows. */
  private pump(): Promise<void> {
    if (this.reading || this.closingLate) return this.reading ?? Promise.resolve();
    // While the store is away one batch is enough to retry with; the rest stays in the files, where the policy
    // can reach it.
    const room = this.storeAway ? (this.inMemory === 0 ? this.batchSize : 0) : this.memoryCap - this.inMemory;
    const bytesRoom = SPOOL_MEMORY_BYTES - this.inMemoryBytes;
    const halfFull = room < this.memoryCap / 2 || bytesRoom < SPOOL_MEMORY_BYTES / 2;
    if (room === 0 || (!this.storeAway && halfFull) || !this.files.hasBacklog()) return Promise.resolve();
    this.reading = this.files
      .read(room, bytesRoom, this.inMemory === 0)
      .then((units) => {
        // Torn lines were counted in the spool but will never be settled.
        const torn = this.files.torn - this.tornSeen;
        this.held -= torn;
        this.tornSeen = this.files.torn;
        this.counters.replayed += units.length;
        this.inMemory += units.length;
        for (const u of units) {
          this.inMemoryBytes += u.bytes;
          if (!u.authentic && this.spool.mac)
            for (const document of documentsOf(u.unit.batch, u.unit.appends)) this.unvouched.add(document);
          this.inner.enqueue({ unit: u.unit, place: u, bytes: u.bytes, authentic: u.authentic });
        }
        // A read that met torn lines may bring back none, and then no settle would come to read on; a read stops at
        // the end of its segment, and the next one is read while there is room (else a backlog of small segments
        // would be stored a segment per flush interval, each a batch short of full).
        return torn > 0 || (units.length > 0 && this.files.hasBacklog());
      })
      .catch((error: unknown) => {
        this.report(new ActionLogStoreError('Could not read the spool back', 0, { cause: error }));
        return false;
      })
      .then((again) => {
        this.reading = undefined;
        if (again) void this.pump();
      });
    return this.reading;
  }

  /** The store calls of a batch, and a last step that settles its lines once they are stored. */
  private build(items: Held[]): BuiltBatch {
    const itemOf = new Map<unknown, number>();
    for (const [index, { unit }] of items.entries())
      itemOf.set(unit.batch.requests[0] ?? unit.batch.activities[0] ?? unit.appends[0], index);
    let steps: WriteStep[];
    let leftOut = 0;
    try {
      steps = this.hooks.steps(
        items.map((held) => held.unit),
        authenticOf(items),
      );
    } catch {
      ({ steps, leftOut } = this.stepsOneByOne(items));
    }
    steps.push(
      setupStep(async () => {
        this.settle(items);
      }),
    );
    return { steps, itemOf: (document) => itemOf.get(document), leftOut };
  }

  /**
   * The store calls of each unit alone, when those of the batch could not be made: a unit that cannot be stored
   * is dropped (reported, and settled with the rest), so that it holds back neither the others nor the spool,
   * whose files are deleted only once every line in them is settled.
   */
  private stepsOneByOne(items: Held[]): { steps: WriteStep[]; leftOut: number } {
    const steps: WriteStep[] = [];
    let leftOut = 0;
    for (const held of items) {
      try {
        steps.push(...this.hooks.steps([held.unit], authenticOf([held])));
      } catch (error) {
        leftOut++;
        this.counters.dropped++;
        this.lose(held.unit);
        this.report(new ActionLogStoreError('Could not make the store calls of a spooled document; it is dropped', 1, { cause: error }));
      }
    }
    return { steps, leftOut };
  }

  private settle(items: Held[]): void {
    for (const { place } of items) this.files.settle(place);
    this.held -= items.length;
    this.release(items);
    this.storeAway = false;
    void this.pump();
    if (this.waiting.length > 0) this.placeWaiting();
  }

  private release(items: Held[]): void {
    if (this.closingLate) return;
    this.inMemory -= items.length;
    for (const { bytes } of items) this.inMemoryBytes -= bytes;
  }

  private dropWaiting(items: Array<Waiting<Item>>, cause?: unknown): void {
    if (items.length === 0) return;
    this.hooks.discard?.(items.map((w) => w.item));
    for (const { unit } of items) this.lose(unit);
    if (cause !== undefined) {
      this.counters.dropped += items.length;
      this.report(new ActionLogStoreError(`Could not append to the spool; ${items.length} documents are dropped`, items.length, { cause }));
      return;
    }
    this.countDrops(items.length);
  }

  /** A unit built here, or read back, that will never be stored. */
  private lose(unit: DocumentUnit): void {
    this.lost(documentsOf(unit.batch, unit.appends));
  }

  /** Documents that will never be stored, less those of lines read back whose MAC does not hold (see `lost`). */
  private lost(documents: Iterable<{ integrity?: Partial<IntegrityLink> }>): void {
    if (this.hooks.lost) this.hooks.lost([...documents].filter((document) => !this.unvouched.has(document)));
  }

  private countDrops(n: number): void {
    this.counters.dropped += n;
    this.drops.count(n);
  }

  private report(error: Error): void {
    try {
      this.hooks.onError(error);
    } catch {
      // An onError that throws must not stop the writer.
    }
  }
}

/** Collects into `into` the links of each unit read whose line's MAC holds (of a segment `drop-oldest` deletes unread). */
function collectVouched(into: Array<{ integrity?: Partial<IntegrityLink> }>): (read: SpooledUnit) => void {
  return (read) => {
    if (!read.authentic) return;
    for (const { integrity } of documentsOf(read.unit.batch, read.unit.appends)) into.push({ integrity });
  };
}

/** The units of `items` read back from lines whose MAC holds. */
function authenticOf(items: readonly Held[]): ReadonlySet<DocumentUnit> {
  return new Set(items.filter((held) => held.authentic).map((held) => held.unit));
}

/** The run of links a unit built here was sealed with (one chain, in order), for the segment its line goes to. */
function linkRunOf(unit: DocumentUnit): LinkRun | undefined {
  let run: LinkRun | undefined;
  for (const { integrity } of documentsOf(unit.batch, unit.appends)) {
    if (integrity?.chain === undefined || integrity.seq === undefined) continue;
    if (!run) run = { chain: integrity.chain, from: integrity.seq, to: integrity.seq };
    else run = { chain: run.chain, from: Math.min(run.from, integrity.seq), to: Math.max(run.to, integrity.seq) };
  }
  return run;
}

/** Each link of a run, as the `lost` hook takes them. */
function* linksIn(run: LinkRun): Generator<{ integrity: { chain: string; seq: number } }> {
  for (let seq = run.from; seq <= run.to; seq++) yield { integrity: { chain: run.chain, seq } };
}
