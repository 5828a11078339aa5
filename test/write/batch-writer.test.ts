import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ActionLogQuarantineError,
  ActionLogQueueFullError,
  ActionLogStoreError,
  type ActionLogger,
  type CheckpointDocument,
  type ActionLoggerOptions,
  createActionLogger,
  type StoreBatch,
} from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { orderChange } from '../../examples/shared/orders.js';
import { FlakyStore, GatedStore, OutageStore, PoisonStore, SpyStore } from '../support/stores.js';
import { ed25519 } from '../support/trail.js';
import { resolveOptions } from '../../src/options.js';
import { BatchWriter } from '../../src/write/batch-writer.js';

// A full collection on demand, to see what the writer still holds.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const loggers: ActionLogger[] = [];
afterEach(async () => {
  for (const l of loggers.splice(0)) await l.close().catch(() => {});
});

function make(store: SpyStore | FlakyStore | PoisonStore | OutageStore, options: Partial<ActionLoggerOptions> = {}) {
  const errors: Error[] = [];
  const logger = createActionLogger({ store, retryDelayMs: 1, maxRetryDelayMs: 5, onError: (e) => errors.push(e), ...options });
  loggers.push(logger);
  return { logger, errors };
}

const change = (id: string): ModelChange => orderChange(id, { action: 'Created', old_object: null, new_object: { _id: id } });

describe('batch writer', () => {
  it('writes nothing on the recording call itself', () => {
    const store = new SpyStore();
    const { logger } = make(store, { flushIntervalMs: 0 });
    logger.recordModelChange(change('a'));
    expect(store.batches).toHaveLength(0);
    expect(logger.stats().queued).toBe(1);
  });

  it('starts a write when a batch is full, before the interval', async () => {
    const store = new SpyStore();
    const { logger } = make(store, { batchSize: 10, maxBatchSize: 10, flushIntervalMs: 60_000 });
    for (let i = 0; i < 25; i++) logger.recordModelChange(change(`o${i}`));
    await sleep(20);
    expect(store.requests().length).toBeGreaterThanOrEqual(10);
    await logger.flush();
    expect(store.batches.every((b) => b.requests.length <= 10)).toBe(true);
    expect(store.requests()).toHaveLength(25);
  });

  it('writes a partial batch once the interval passes', async () => {
    const store = new SpyStore();
    const { logger } = make(store, { batchSize: 100, flushIntervalMs: 30 });
    logger.recordModelChange(change('a'));
    logger.recordModelChange(change('b'));
    await sleep(5);
    expect(store.batches).toHaveLength(0);
    await sleep(80);
    expect(store.batches.map((b) => b.requests.length)).toEqual([2]);
  });

  it('leaves what arrives during a write for the next interval, unless it fills a batch or a flush waits for it', async () => {
    // A store as slow as a database across a network: each write takes 40 ms.
    class SlowStore extends SpyStore {
      started = 0;

      override async write(batch: Parameters<SpyStore['write']>[0]): Promise<void> {
        this.started++;
        await sleep(40);
        await super.write(batch);
      }
    }
    const store = new SlowStore();
    const { logger } = make(store, { batchSize: 5, maxBatchSize: 5, flushIntervalMs: 150 });
    logger.recordModelChange(change('a'));
    // The interval passed: the first write is under way (waited for, however late a loaded machine's timer fires).
    await vi.waitFor(
      () => {
        expect(store.started).toBe(1);
      },
      { timeout: 5000, interval: 5 },
    );
    logger.recordModelChange(change('b'));
    logger.recordModelChange(change('c'));
    // The first write is done; b and c wait for their own interval.
    await vi.waitFor(
      () => {
        expect(store.batches).toHaveLength(1);
      },
      { timeout: 5000, interval: 5 },
    );
    expect(store.batches.map((b) => b.requests.length)).toEqual([1]);
    await sleep(300);
    expect(store.batches.map((b) => b.requests.length)).toEqual([1, 2]);
    for (let i = 0; i < 6; i++) logger.recordModelChange(change(`full${i}`));
    logger.recordModelChange(change('waited-for'));
    await logger.flush();
    expect(store.batches.map((b) => b.requests.length)).toEqual([1, 2, 5, 2]);
  });

  it('retries a failing store with backoff, reporting each failure, and stores everything once', async () => {
    const store = new FlakyStore();
    const { logger, errors } = make(store, { flushIntervalMs: 0 });
    store.failNext(3);
    for (let i = 0; i < 5; i++) logger.recordModelChange(change(`o${i}`));
    await logger.flush();
    expect(store.requests().map((d) => d.details.model_logs[0]!.model_id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    // The store answers again after the third failure: the writer needs no third backoff to find out.
    expect(logger.stats()).toMatchObject({ recorded: 5, stored: 5, retried: 2, dropped: 0, quarantined: 0, queued: 0 });
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof ActionLogStoreError && /retrying/.test(e.message))).toBe(true);
  });

  it('never duplicates a batch whose write succeeded but whose reply was lost', async () => {
    const store = new FlakyStore();
    const { logger } = make(store, { flushIntervalMs: 0 });
    store.loseAckNext(2);
    await logger.run({}, async () => {
      logger.recordModelChange(change('a'));
      logger.record({ action: 'x' });
    });
    logger.activity({ action: 'Did a thing', user: { lookup_from: 'users', _id: 'u', label: 'U' } });
    await logger.flush();
    expect(store.requests()).toHaveLength(1);
    expect(store.actions()).toHaveLength(1);
    expect(store.activities()).toHaveLength(1);
  });

  it('drops a batch after maxRetries, counts it and reports the loss, then keeps going', async () => {
    const store = new FlakyStore();
    const { logger, errors } = make(store, { flushIntervalMs: 0, maxRetries: 2 });
    store.failForever();
    logger.recordModelChange(change('lost'));
    await logger.flush();
    expect(logger.stats()).toMatchObject({ recorded: 1, stored: 0, retried: 2, dropped: 1 });
    expect(errors.at(-1)).toBeInstanceOf(ActionLogStoreError);
    expect(errors.at(-1)!.message).toMatch(/dropped/);
    store.heal();
    logger.recordModelChange(change('kept'));
    await logger.flush();
    expect(store.requests().map((d) => d.details.model_logs[0]!.model_id)).toEqual(['kept']);
  });

  it('with drop-newest, refuses what arrives when the queue is full', async () => {
    const store = new FlakyStore();
    const { logger, errors } = make(store, { flushIntervalMs: 0, maxQueueSize: 3, onQueueFull: 'drop-newest' });
    store.failNext(1);
    for (let i = 0; i < 6; i++) logger.recordModelChange(change(`o${i}`));
    await logger.flush();
    expect(store.requests().map((d) => d.details.model_logs[0]!.model_id)).toEqual(['o0', 'o1', 'o2']);
    expect(logger.stats()).toMatchObject({ recorded: 6, stored: 3, dropped: 3 });
    // The first drop is reported at once, the rest of the burst together a second later.
    expect(errors.filter((e) => e instanceof ActionLogQueueFullError).map((e) => e.dropped)).toEqual([1]);
    await sleep(1100);
    expect(errors.filter((e) => e instanceof ActionLogQueueFullError).map((e) => e.dropped)).toEqual([1, 2]);
  });

  it('with drop-oldest, drops queued documents to take the newest', async () => {
    const store = new FlakyStore();
    const { logger } = make(store, { flushIntervalMs: 60_000, batchSize: 100, maxQueueSize: 3, onQueueFull: 'drop-oldest' });
    for (let i = 0; i < 6; i++) logger.recordModelChange(change(`o${i}`));
    await logger.flush();
    expect(store.requests().map((d) => d.details.model_logs[0]!.model_id)).toEqual(['o3', 'o4', 'o5']);
    expect(logger.stats()).toMatchObject({ recorded: 6, stored: 3, dropped: 3 });
  });

  it('appends late events even when the parent document was dropped from a full queue', async () => {
    const store = new FlakyStore();
    const { logger } = make(store, { flushIntervalMs: 60_000, batchSize: 100, maxQueueSize: 1, onQueueFull: 'drop-oldest' });
    let ctx!: ReturnType<ActionLogger['current']>;
    await logger.run({ requestUuid: 'first' }, async () => {
      ctx = logger.current();
      logger.recordModelChange(change('a'));
    });
    logger.recordModelChange(change('b'));
    logger.recordModelChange(change('late'), ctx);
    await logger.flush();
    expect(store.requests().map((d) => [d.request_uuid, d.details.model_logs.map((m) => m.model_id)])).toContainEqual(['first', ['late']]);
  });

  it('keeps writing in order when onError itself throws', async () => {
    const store = new FlakyStore();
    const logger = createActionLogger({
      store,
      flushIntervalMs: 0,
      retryDelayMs: 1,
      onError: () => {
        throw new Error('bad handler');
      },
    });
    loggers.push(logger);
    store.failNext(1);
    logger.recordModelChange(change('a'));
    await logger.flush();
    expect(store.requests()).toHaveLength(1);
  });
});

describe('batch writer, when the store refuses a document', () => {
  const poisoned = (id: string) => orderChange(id, { new_object: { _id: id, note: 'POISON' } });

  it('stores every other document of the batch at once and quarantines the refused one, reporting it once', async () => {
    const store = new PoisonStore('POISON');
    const { logger, errors } = make(store, { flushIntervalMs: 60_000, batchSize: 100 });
    for (let i = 0; i < 50; i++) {
      await logger.run({ requestUuid: `r-${i}` }, () => {
        logger.recordModelChange(i === 17 ? poisoned(`o${i}`) : change(`o${i}`));
      });
    }
    await logger.flush();
    expect(store.requests().map((d) => d.request_uuid)).toHaveLength(49);
    expect(store.requests().map((d) => d.request_uuid)).not.toContain('r-17');
    // Its model log mirror (a copy of part of it) goes with it: one unit, quarantined once.
    expect(store.modelLogs().map((m) => m.request_uuid)).toHaveLength(49);
    expect(store.modelLogs().map((m) => m.request_uuid)).not.toContain('r-17');
    expect(logger.stats()).toMatchObject({ recorded: 50, stored: 49, quarantined: 1, dropped: 0, retried: 0 });
    const [refused] = logger.quarantined();
    expect(logger.quarantined()).toHaveLength(1);
    expect(refused).toMatchObject({ kind: 'request', request_uuid: 'r-17', error: { message: 'invalid byte sequence: POISON' } });
    const reports = errors.filter((e) => e instanceof ActionLogQuarantineError);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.message).toMatch(/r-17/);
    // Found by halving: a few writes, not one per document.
    expect(store.writes).toBeLessThan(20);
  });

  it('isolates by halving also for a store without a ping, once the batch failed twice', async () => {
    const store = new PoisonStore('POISON');
    Object.defineProperty(store, 'ping', { value: undefined });
    const { logger } = make(store, { flushIntervalMs: 60_000, batchSize: 100 });
    for (let i = 0; i < 10; i++) logger.recordModelChange(i === 3 ? poisoned(`o${i}`) : change(`o${i}`));
    await logger.flush();
    expect(store.requests()).toHaveLength(9);
    expect(logger.stats()).toMatchObject({ stored: 9, quarantined: 1, dropped: 0 });
  });

  it('quarantines a lone document only when the store refused it twice while answering', async () => {
    const store = new PoisonStore('POISON');
    const { logger } = make(store, { flushIntervalMs: 0 });
    logger.recordModelChange(poisoned('alone'));
    await logger.flush();
    expect(store.writes).toBe(2);
    expect(logger.stats()).toMatchObject({ stored: 0, quarantined: 1, dropped: 0 });
    logger.recordModelChange(change('next'));
    await logger.flush();
    expect(store.requests()).toHaveLength(1);
  });
});

describe('batch writer, recovery and shutdown', () => {
  it('ends a backoff as soon as the store answers again', async () => {
    const store = new OutageStore();
    const { logger } = make(store, { flushIntervalMs: 0, retryDelayMs: 20_000, maxRetryDelayMs: 20_000 });
    logger.recordModelChange(change('a'));
    const started = Date.now();
    setTimeout(() => {
      store.up();
    }, 300);
    await logger.flush();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(store.requests()).toHaveLength(1);
    expect(store.pings).toBeGreaterThan(0);
  });

  it('close({ timeout }) stops waiting at the deadline and says how many documents are left', async () => {
    const store = new OutageStore();
    const { logger, errors } = make(store, { flushIntervalMs: 0, retryDelayMs: 5_000, maxRetryDelayMs: 5_000 });
    for (let i = 0; i < 3; i++) logger.recordModelChange(change(`o${i}`));
    await sleep(50);
    logger.recordModelChange(change('queued-behind'));
    const started = Date.now();
    const closed = await logger.close({ timeout: 300 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(closed.left).toBe(4);
    await sleep(50);
    expect(logger.stats()).toMatchObject({ recorded: 4, stored: 0, dropped: 4, queued: 0 });
    expect(errors.some((e) => e instanceof ActionLogStoreError && /closed/.test(e.message))).toBe(true);
  });

  it('close() without a timeout waits for everything, and reports no loss', async () => {
    const store = new OutageStore();
    store.up();
    const { logger } = make(store, { flushIntervalMs: 60_000 });
    logger.recordModelChange(change('a'));
    expect(await logger.close()).toEqual({ left: 0 });
    expect(store.requests()).toHaveLength(1);
  });
});

describe('batch writer, several writes at once', () => {
  /** Takes `delayMs(n)` for its n-th write (from 0) and notes how many writes were under way at once. */
  class SlowStore extends SpyStore {
    writing = 0;
    most = 0;
    private calls = 0;

    constructor(private readonly delayMs: (n: number) => number) {
      super();
    }

    override async write(batch: StoreBatch): Promise<void> {
      this.most = Math.max(this.most, ++this.writing);
      try {
        await sleep(this.delayMs(this.calls++));
        await super.write(batch);
      } finally {
        this.writing--;
      }
    }
  }

  it.for([1, 2, 3])('with concurrentWrites %i, writes full batches that wait beside the write in progress', async (concurrentWrites) => {
    const store = new SlowStore(() => 40);
    const { logger } = make(store, { batchSize: 5, maxBatchSize: 5, flushIntervalMs: 60_000, concurrentWrites });
    for (let i = 0; i < 20; i++) logger.recordModelChange(change(`o${i}`));
    await logger.flush();
    expect(store.most).toBe(concurrentWrites);
    expect(store.batches.map((b) => b.requests.length)).toEqual([5, 5, 5, 5]);
    expect(new Set(store.requests().map((r) => r.details.model_logs[0]?.model_id)).size).toBe(20);
    expect(logger.stats()).toMatchObject({ stored: 20, queued: 0, dropped: 0 });
  });

  it('writes what waited behind a slow write in batches of up to maxBatchSize, by default ten batches', async () => {
    for (const [options, sizes] of [
      [{ maxBatchSize: 12 }, [5, 12, 12, 6]],
      [{}, [5, 30]],
    ] as const) {
      const store = new SlowStore(() => 40);
      const { logger } = make(store, { batchSize: 5, flushIntervalMs: 60_000, ...options });
      // A full batch starts a write; what arrives during it waits, more than a batch of it.
      for (let i = 0; i < 5; i++) logger.recordModelChange(change(`o${i}`));
      await vi.waitFor(
        () => {
          expect(store.most).toBe(1);
        },
        { interval: 1 },
      );
      for (let i = 5; i < 35; i++) logger.recordModelChange(change(`o${i}`));
      await logger.flush();
      expect(store.batches.map((b) => b.requests.length)).toEqual(sizes);
      expect(store.requests().map((r) => r.details.model_logs[0]?.model_id)).toEqual(Array.from({ length: 35 }, (_, i) => `o${i}`));
    }
  });

  it('lets a build yield unless a batch of maxBatchSize waits behind it', async () => {
    const yields: boolean[] = [];
    const writer = new BatchWriter<number>(
      { ...resolveOptions({ store: new SpyStore() }), batchSize: 2, maxBatchSize: 4, flushIntervalMs: 60_000 },
      {
        build: (_items, mayYield) => {
          yields.push(mayYield());
          return { steps: [], itemOf: () => undefined };
        },
        onError: (error) => {
          throw error;
        },
      },
    );
    // Ten wait when the first write starts: 4 are taken and 6 wait (a batch of the largest size), then 4 and 2.
    for (let i = 0; i < 10; i++) writer.enqueue(i);
    await writer.flush();
    expect(yields).toEqual([false, true, true]);
    expect(writer.stats()).toMatchObject({ recorded: 10, stored: 10, queued: 0 });
  });

  it('nor while half of maxQueueSize waits, when that is less than maxBatchSize (else it could never stop yielding)', async () => {
    const yields: boolean[] = [];
    const writer: BatchWriter<number> = new BatchWriter<number>(
      { ...resolveOptions({ store: new SpyStore() }), batchSize: 2, maxBatchSize: 8, maxQueueSize: 12, flushIntervalMs: 60_000 },
      {
        build: (items, mayYield) => {
          // Six arrive while the first batch of two is built: half the queue's room, not yet a batch of 8.
          if (items[0] === 0) for (let i = 2; i < 8; i++) writer.enqueue(i);
          yields.push(mayYield());
          return { steps: [], itemOf: () => undefined };
        },
        onError: (error) => {
          throw error;
        },
      },
    );
    writer.enqueue(0);
    writer.enqueue(1);
    await writer.flush();
    await writer.flush(); // the six that arrived during the first build
    expect(yields).toEqual([false, true]);
    expect(writer.stats()).toMatchObject({ recorded: 8, stored: 8, dropped: 0, queued: 0 });
  });

  it('keeps half of maxQueueSize out of the writes in flight, so that drop-oldest has the oldest to drop', async () => {
    const store = new GatedStore(1);
    const { logger } = make(store, {
      batchSize: 2,
      maxBatchSize: 10,
      maxQueueSize: 8,
      onQueueFull: 'drop-oldest',
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 8; i++) logger.recordModelChange(change(`o${i}`));
    await vi.waitFor(
      () => {
        expect(store.started).toBe(1);
      },
      { interval: 1 },
    );
    // The write in flight took half the room (o0-o3); o4-o7 wait, and the newest push the oldest of them out.
    for (let i = 8; i < 12; i++) logger.recordModelChange(change(`o${i}`));
    store.answer();
    await logger.flush();
    expect(store.requests().map((r) => r.details.model_logs[0]?.model_id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o8', 'o9', 'o10', 'o11']);
    expect(logger.stats()).toMatchObject({ recorded: 12, stored: 8, dropped: 4 });
  });

  it('lets go of what it queued once a batch is built, while the store takes its time', async () => {
    const store = new GatedStore();
    const { logger } = make(store, { batchSize: 100, flushIntervalMs: 60_000 });
    let released = 0;
    const registry = new FinalizationRegistry(() => {
      released++;
    });
    for (let i = 0; i < 100; i++) {
      await logger.run({ requestUuid: `r${i}` }, () => {
        registry.register(logger.current() as object, i);
        logger.recordModelChange(change(`o${i}`));
      });
    }
    await vi.waitFor(() => {
      expect(store.started).toBe(1);
    });
    // The batch is built and its write waits: its scopes are garbage, only the documents are held.
    for (let i = 0; i < 10 && released < 100; i++) {
      collectGarbage();
      await sleep(10);
    }
    expect(released).toBe(100);
    store.answer();
    await logger.flush();
    expect(logger.stats()).toMatchObject({ stored: 100, queued: 0 });
  });

  it('writes one batch at a time while what waits behind it is no full batch', async () => {
    const store = new SlowStore(() => 40);
    const { logger } = make(store, { batchSize: 5, flushIntervalMs: 5, concurrentWrites: 4 });
    for (let i = 0; i < 8; i++) {
      logger.recordModelChange(change(`o${i}`));
      await sleep(15);
    }
    await logger.flush();
    expect(store.most).toBe(1);
    expect(store.requests()).toHaveLength(8);
  });

  it('confirms a chain in the order its batches were sealed, so that no checkpoint covers an entry not stored yet', async () => {
    // The first write takes longest: the second batch is stored before it.
    class Checkpoints extends SlowStore {
      readonly storedSeqs = new Set<number>();
      readonly covered: Array<{ head: number; missing: number[] }> = [];

      override async write(batch: StoreBatch): Promise<void> {
        await super.write(batch);
        for (const doc of [...batch.requests, ...batch.modelLogs]) {
          const seq = doc.integrity?.seq;
          if (seq !== undefined) this.storedSeqs.add(seq);
        }
      }

      override async writeCheckpoint(checkpoint: CheckpointDocument): Promise<void> {
        const head = checkpoint.heads.find((h) => h.chain === checkpoint.chain)?.seq ?? 0;
        const missing = Array.from({ length: head }, (_, i) => i + 1).filter((seq) => !this.storedSeqs.has(seq));
        this.covered.push({ head, missing });
        await super.writeCheckpoint(checkpoint);
      }
    }
    const store = new Checkpoints((n) => (n === 0 ? 120 : 5));
    const keys = ed25519();
    const { logger } = make(store, {
      batchSize: 5,
      maxBatchSize: 5,
      flushIntervalMs: 60_000,
      concurrentWrites: 2,
      integrity: { key: keys.privateKey, checkpointEvery: 3 },
    });
    for (let i = 0; i < 10; i++)
      await logger.run({}, () => {
        logger.recordModelChange(change(`o${i}`));
      });
    await logger.close();
    expect(store.most).toBe(2);
    // A request document and its model log mirror per scope: 20 links, all covered in the end.
    expect(Math.max(...store.covered.map((c) => c.head))).toBe(20);
    expect(store.covered.filter((c) => c.missing.length > 0)).toEqual([]);
    const report = await createActionLogger({ store, integrity: { key: keys.privateKey } }).verify({ keys: [keys.publicKey] });
    expect(report).toMatchObject({ status: 'intact', findings: [] });
  });
});
