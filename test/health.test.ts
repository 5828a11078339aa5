import { describe, expect, it } from 'vitest';
import { ActionLogConfigError, ActionLogStoreError, createActionLogger, MemoryStore } from 'actionlog';
import { FlakyStore } from './support/stores.js';

describe('logger.health()', () => {
  it('reports the store, the queue and the last error during an outage and after it', async () => {
    const store = new FlakyStore();
    const logger = createActionLogger({
      store,
      flushIntervalMs: 0,
      retryDelayMs: 20,
      maxRetryDelayMs: 20,
      maxRetries: 1000,
      onError: () => {},
    });
    await logger.run({}, () => logger.record({ action: 'before' }));
    await logger.flush();
    const before = await logger.health();
    expect(before).toMatchObject({
      ok: true,
      closed: false,
      store: { reachable: true, error: null },
      queue: { depth: 0, max: 10_000 },
      spool: undefined,
      lastError: null,
    });
    expect(before.store.latencyMs).toBeGreaterThanOrEqual(0);

    store.failForever();
    const outageStarted = new Date();
    await logger.run({}, () => logger.record({ action: 'during' }));
    await expect.poll(() => logger.stats().retried).toBeGreaterThan(0);
    const during = await logger.health();
    expect(during).toMatchObject({
      ok: false,
      closed: false,
      store: { reachable: false, latencyMs: null, error: 'store unavailable' },
      queue: { depth: 1 },
      lastError: { name: 'ActionLogStoreError' },
    });
    expect(during.lastError!.at.getTime()).toBeGreaterThanOrEqual(outageStarted.getTime());

    store.heal();
    await logger.flush();
    const after = await logger.health();
    expect(after).toMatchObject({ ok: true, store: { reachable: true, error: null }, queue: { depth: 0 } });
    // The last error stays, with its time, for whoever looks later.
    expect(after.lastError!.name).toBe('ActionLogStoreError');
    expect(after.lastError!.at.getTime()).toBeGreaterThanOrEqual(during.lastError!.at.getTime());
    expect(store.actions().map((a) => a.action_type)).toEqual(['before', 'during']);

    await logger.close();
    expect(await logger.health()).toMatchObject({ ok: false, closed: true, store: { reachable: null } });
  });

  it('counts a store that does not answer within the timeout as unreachable', async () => {
    class HangingStore extends MemoryStore {
      override ping(): Promise<void> {
        return new Promise(() => undefined);
      }
    }
    const logger = createActionLogger({ store: new HangingStore() });
    const started = performance.now();
    const health = await logger.health({ timeout: 50 });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(health).toMatchObject({ ok: false, store: { reachable: false, error: 'no answer within 50 ms' } });
    await logger.close();
  });

  it('says "unknown" (null) for a store without a ping, and is ready then', async () => {
    const store = new MemoryStore();
    Object.defineProperty(store, 'ping', { value: undefined });
    const logger = createActionLogger({ store });
    expect(await logger.health()).toMatchObject({ ok: true, store: { reachable: null, latencyMs: null, error: null } });
    await logger.close();
  });

  it('refuses a bad timeout, naming it', async () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    await expect(logger.health({ timeout: 0 })).rejects.toThrow(ActionLogConfigError);
    await expect(logger.health({ timeout: 0 })).rejects.toThrow(/timeout/);
    await logger.close();
  });
});

describe('option onStoreError', () => {
  it('defaults to retry and refuses anything but retry, spool or throw, naming the option', () => {
    const store = new MemoryStore();
    expect(createActionLogger({ store }).failurePolicy).toBe('retry');
    expect(createActionLogger({ store, onStoreError: 'throw' }).failurePolicy).toBe('throw');
    expect(() => createActionLogger({ store, onStoreError: 'ignore' as never })).toThrow(ActionLogConfigError);
    expect(() => createActionLogger({ store, onStoreError: 'ignore' as never })).toThrow(/onStoreError/);
  });

  it('makes run() reject when its document cannot be stored, and stores it later', async () => {
    const store = new FlakyStore();
    const logger = createActionLogger({ store, onStoreError: 'throw', retryDelayMs: 1, onError: () => {} });
    store.failNext(1);
    await expect(logger.run({ requestUuid: 'strict-run' }, () => logger.record({ action: 'job' }))).rejects.toThrow(ActionLogStoreError);
    await logger.flush();
    expect(store.requests().map((d) => d.request_uuid)).toEqual(['strict-run']);
    await logger.close();
  });
});
