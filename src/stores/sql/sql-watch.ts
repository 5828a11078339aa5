import { ActionLogStoreError } from '../../shared/errors.js';

/** The parts of a node-postgres client the listener uses. */
export interface PgClientLike {
  connect(): Promise<unknown>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', listener: (message: { channel: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
}

/** node-postgres's pool under TypeORM's PostgreSQL driver (`driver.master`): its client class and options. */
export interface PgPoolLike {
  Client: new (options: object) => PgClientLike;
  options: object;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * Who to wake when entries may have been stored: on this store's own writes, and on PostgreSQL on notifications
 * of every process writing the same trail (its writes `NOTIFY` a channel, this listens to it on a connection of its
 * own, made with the options of the DataSource's pool and closed by `close()`).
 */
export class SqlWatch {
  private readonly watchers = new Set<() => void>();
  private client: PgClientLike | undefined;
  private connecting = false;
  private retryMs = RETRY_MIN_MS;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly channel: string,
    /** The pool to copy the connection options from; resolves to nothing on SQLite (no cross-process wake). */
    private readonly pool: () => Promise<PgPoolLike | undefined>,
    private readonly warn: (error: Error) => void,
  ) {}

  add(onWrite: () => void): () => void {
    this.watchers.add(onWrite);
    if (!this.client && !this.connecting) void this.listen();
    return () => {
      this.watchers.delete(onWrite);
      // No one left to wake: the connection would only keep the process alive.
      if (this.watchers.size === 0) void this.stop();
    };
  }

  wake(): void {
    for (const watcher of [...this.watchers]) watcher();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    await this.stop();
  }

  private async stop(): Promise<void> {
    clearTimeout(this.retry);
    this.retryMs = RETRY_MIN_MS;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    if (this.idle()) return;
    this.connecting = true;
    let client: PgClientLike | undefined;
    try {
      const pool = await this.pool();
      if (!pool) return;
      const fresh = new pool.Client(pool.options);
      client = fresh;
      fresh.on('notification', (message) => {
        if (message.channel === this.channel) this.wake();
      });
      fresh.on('error', () => {
        this.lost(fresh);
      });
      fresh.on('end', () => {
        this.lost(fresh);
      });
      await fresh.connect();
      await fresh.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
      if (this.idle()) {
        await fresh.end();
        return;
      }
      this.client = client;
      this.retryMs = RETRY_MIN_MS;
      // Writes may have happened while no one listened.
      this.wake();
    } catch (error) {
      await client?.end().catch(() => undefined);
      if (this.retryMs === RETRY_MIN_MS) {
        const message = `SqlStore: cannot listen for writes of other processes (${(error as Error).message}); following the trail polls until it can`;
        this.warn(new ActionLogStoreError(message, 0, { cause: error }));
      }
      this.again();
    } finally {
      this.connecting = false;
    }
  }

  /** Closed, or no one to wake. */
  private idle(): boolean {
    return this.closed || this.watchers.size === 0;
  }

  private lost(client: PgClientLike): void {
    if (this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.again();
  }

  private again(): void {
    if (this.idle()) return;
    clearTimeout(this.retry);
    // Unref'd: a watcher never keeps the process alive by itself.
    this.retry = setTimeout(() => void this.listen(), this.retryMs).unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
