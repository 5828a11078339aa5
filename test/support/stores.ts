import { MemoryStore, type RequestAppend, type StoreBatch } from 'actionlog';

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
