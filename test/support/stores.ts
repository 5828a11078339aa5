import { setTimeout as sleep } from 'node:timers/promises';
import { createActionLogger, MemoryStore, type RequestAppend, type Store, type StoreBatch } from 'actionlog';

/** Request documents of a store, by request_uuid in stored order, with how many times each is there. */
export async function storedCounts(store: Store): Promise<Map<string, number>> {
  const reader = createActionLogger({ store });
  const counts = new Map<string, number>();
  for (let cursor: string | null = null, first = true; first || cursor; first = false) {
    const page: { items: Array<{ request_uuid: string }>; next_cursor: string | null } = await reader.query(
      { kind: 'requests' },
      { order: 'asc', limit: 500, cursor },
    );
    for (const entry of page.items) counts.set(entry.request_uuid, (counts.get(entry.request_uuid) ?? 0) + 1);
    cursor = page.next_cursor;
  }
  await reader.close();
  return counts;
}

/** A MemoryStore that remembers every batch and append call it was given, as given. */
export class SpyStore extends MemoryStore {
  readonly batches: StoreBatch[] = [];
  readonly appendCalls: RequestAppend[][] = [];

  override async write(batch: StoreBatch): Promise<void> {
    this.batches.push(batch);
    await super.write(batch);
  }

  override async append(appends: RequestAppend[]): Promise<void> {
    this.appendCalls.push(appends);
    await super.append(appends);
  }
}

/** A SpyStore whose first `gated` writes (all by default) wait until `answer()`; `started` counts the writes begun. */
export class GatedStore extends SpyStore {
  started = 0;
  private open: () => void = () => undefined;
  private readonly opened = new Promise<void>((resolve) => {
    this.open = resolve;
  });

  constructor(private readonly gated = Number.POSITIVE_INFINITY) {
    super();
  }

  answer(): void {
    this.open();
  }

  override async write(batch: StoreBatch): Promise<void> {
    if (this.started++ < this.gated) await this.opened;
    await super.write(batch);
  }
}

/**
 * A MemoryStore that fails on demand: `failNext(n)` makes the next n calls throw before writing;
 * `loseAckNext(n)` makes them write and then throw, as when a connection drops before the reply.
 */
export class FlakyStore extends MemoryStore {
  calls = 0;
  private failures = 0;
  private lostAcks = 0;

  failNext(n: number): void {
    this.failures = n;
  }

  loseAckNext(n: number): void {
    this.lostAcks = n;
  }

  failForever(): void {
    this.failures = Number.POSITIVE_INFINITY;
  }

  heal(): void {
    this.failures = 0;
    this.lostAcks = 0;
  }

  /** Down while it fails writes: a ping fails too, without using up a failure. */
  override async ping(): Promise<void> {
    if (this.failures > 0) throw new Error('store unavailable');
  }

  override async write(batch: StoreBatch): Promise<void> {
    await this.around(() => super.write(batch));
  }

  override async append(appends: RequestAppend[]): Promise<void> {
    await this.around(() => super.append(appends));
  }

  private async around(op: () => Promise<void>): Promise<void> {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('store unavailable');
    }
    await op();
    if (this.lostAcks > 0) {
      this.lostAcks--;
      throw new Error('connection lost before the reply');
    }
  }
}

/**
 * A MemoryStore that refuses a whole write when one of its documents holds `poison` anywhere (as PostgreSQL refuses
 * a batch holding one string it cannot store), while it answers pings: the store is up, the batch is at fault.
 */
export class PoisonStore extends MemoryStore {
  writes = 0;

  constructor(private readonly poison: string) {
    super();
  }

  override async write(batch: StoreBatch): Promise<void> {
    this.writes++;
    if (JSON.stringify(batch).includes(this.poison)) throw new Error(`invalid byte sequence: ${this.poison}`);
    await super.write(batch);
  }

  override async append(appends: RequestAppend[]): Promise<void> {
    this.writes++;
    if (JSON.stringify(appends).includes(this.poison)) throw new Error(`invalid byte sequence: ${this.poison}`);
    await super.append(appends);
  }
}

/** A MemoryStore that is down (writes and pings fail) until `up()`; once up, each write takes `delayMs`. */
export class OutageStore extends MemoryStore {
  down = true;
  writes = 0;
  pings = 0;
  delayMs = 0;

  up(): void {
    this.down = false;
  }

  override async ping(): Promise<void> {
    this.pings++;
    if (this.down) throw new Error('connection refused');
  }

  override async write(batch: StoreBatch): Promise<void> {
    this.writes++;
    if (this.down) throw new Error('connection refused');
    if (this.delayMs > 0) await sleep(this.delayMs);
    await super.write(batch);
  }
}

/**
 * `store`, refusing any write that holds `marker` anywhere, as a database refuses a batch holding one value it cannot
 * keep; everything else (pings, reads) reaches `store`.
 */
export function refusing(store: Store, marker: string): Store {
  const check = (what: unknown) => {
    if (JSON.stringify(what).includes(marker)) throw new Error(`the store refused a value: ${marker}`);
  };
  return {
    init: (info) => store.init?.(info) ?? Promise.resolve(),
    ping: () => store.ping?.() ?? Promise.resolve(),
    write: async (batch) => {
      check(batch);
      await store.write(batch);
    },
    append: async (appends) => {
      check(appends);
      await store.append(appends);
    },
    query: (q) => store.query(q),
    count: (kind, filter) => store.count(kind, filter),
    facets: (q) => store.facets(q),
    close: () => store.close(),
  };
}
