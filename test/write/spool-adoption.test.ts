/**
 * Adoption while running (a logger adopts, every 30 s, the files of processes of its folder that died since it
 * started): a file that cannot be read, a close under way, and a live logger of another thread of the process.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActionLogger, type ActionLogger, MemoryStore } from 'actionlog';
import { GatedStore, OutageStore } from '../support/stores.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const folders: string[] = [];
const loggers: ActionLogger[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const l of loggers.splice(0)) await l.close({ timeout: 100 }).catch(() => {});
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'actionlog-adoption-'));
  folders.push(dir);
  return dir;
}

/** A logger of the folder whose store is away, closed past its deadline: its files stay, its lock goes. */
async function leaveDead(dir: string, n: number, prefix: string, maxBytes?: number): Promise<void> {
  const gone = createActionLogger({
    store: new OutageStore(),
    spool: { dir, ...(maxBytes ? { maxBytes } : {}) },
    onError: () => {},
  });
  for (let i = 0; i < n; i++) await gone.run({ requestUuid: `${prefix}-${i}` }, () => gone.record({ action: 'tick' }));
  expect(await gone.close({ timeout: 50 })).toEqual({ left: n });
}

const uuids = (store: MemoryStore) => store.requests().map((r) => r.request_uuid);

describe('spool: adoption while running', () => {
  it('a file of a dead process that cannot be read is reported and given back; the rest is adopted, counts right', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const dir = folder();
    const store = new MemoryStore();
    const errors: Error[] = [];
    const running = createActionLogger({ store, spool: { dir }, onError: (e) => errors.push(e) });
    loggers.push(running);
    // Small segments (maxBytes / 8): the dead logger leaves several.
    await leaveDead(dir, 40, 'gone', 64 * 1024);
    const dead = readdirSync(dir).filter((n) => n.endsWith('.spool'));
    expect(dead.length).toBeGreaterThanOrEqual(3);
    // Between two of its segments, one that cannot be read once claimed (a folder under a segment's name).
    const unreadable = dead[0]!.replace(/-\d{8}\.spool$/, '-00000002.spool');
    rmSync(join(dir, unreadable));
    mkdirSync(join(dir, unreadable));
    const readable = dead.filter((n) => n !== unreadable);
    const lines = readable.reduce((sum, n) => sum + readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean).length, 0);
    vi.advanceTimersByTime(30_000);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/cannot be read: EISDIR/)]);
    await running.run({ requestUuid: 'running-0' }, () => running.record({ action: 'tick' }));
    await vi.waitFor(
      () => {
        expect(running.stats().spool).toMatchObject({ pending: 0 });
      },
      { timeout: 5000 },
    );
    await running.flush();
    const stored = new Set(uuids(store));
    expect(stored.has('running-0')).toBe(true);
    // Every document of the files it could read is stored once; nothing is counted that is not there.
    expect({ stored: store.requests().length, queued: running.stats().queued }).toEqual({ stored: stored.size, queued: 0 });
    expect(stored.size).toBe(lines + 1);
    expect(readdirSync(dir)).toContain(unreadable);
  });

  it('a logger closing adopts nothing more: what a dead process left stays under its name for the next start', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const dir = folder();
    const store = new GatedStore(1);
    // batchSize 1: at most 64 lines in memory, the rest is read back from the files.
    const running = createActionLogger({ store, batchSize: 1, spool: { dir }, onError: () => {} });
    loggers.push(running);
    await leaveDead(dir, 100, 'gone');
    await running.run({ requestUuid: 'running-0' }, () => running.record({ action: 'tick' }));
    await vi.waitFor(
      () => {
        expect(store.started).toBe(1);
      },
      { timeout: 3000 },
    );
    const owner = readdirSync(dir)
      .find((n) => n.endsWith('.lock'))!
      .slice(0, -'.lock'.length);
    const closing = running.close();
    // The sweep comes during close's drain (its first write hangs until answered): a close would not wait for what
    // it adopted then, and would leave it, unsaid, in files under its own name.
    vi.advanceTimersByTime(30_000);
    store.answer();
    expect(await closing).toEqual({ left: 0 });
    expect(uuids(store)).toEqual(['running-0']);
    expect(readdirSync(dir).filter((n) => n.startsWith(owner))).toEqual([]);
    // The next start stores them.
    const after = new MemoryStore();
    const later = createActionLogger({ store: after, spool: { dir } });
    loggers.push(later);
    await later.flush();
    expect(new Set(uuids(after)).size).toBe(100);
  });

  it('two loggers of one process (main thread and a worker thread) on one folder: the running one never adopts the live one', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const dir = folder();
    const store = new MemoryStore();
    const running = createActionLogger({ store, spool: { dir } });
    loggers.push(running);
    const require = createRequire(import.meta.url);
    const worker = new Worker(
      `
      const { workerData, parentPort } = require('node:worker_threads');
      (async () => {
        const { register } = await import(workerData.tsx);
        register();
        const { createActionLogger, MemoryStore } = await import(workerData.src);
        class Away extends MemoryStore {
          async ping() { throw new Error('connection refused'); }
          async write() { throw new Error('connection refused'); }
        }
        const logger = createActionLogger({ store: new Away(), spool: { dir: workerData.dir }, onError: () => {} });
        let n = 0;
        const record = async (count) => {
          for (let i = 0; i < count; i++, n++) await logger.run({ requestUuid: 'live-' + n }, () => logger.record({ action: 'tick' }));
          await new Promise((r) => setTimeout(r, 200));
        };
        parentPort.on('message', async (m) => {
          if (m === 'more') { await record(10); parentPort.postMessage('recorded'); }
          if (m === 'stop') { await logger.close({ timeout: 50 }); parentPort.postMessage('stopped'); }
        });
        await record(20);
        parentPort.postMessage('recorded');
      })().catch((e) => parentPort.postMessage('error: ' + e.stack));
      `,
      {
        eval: true,
        workerData: {
          dir,
          tsx: pathToFileURL(require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href,
          src: pathToFileURL(join(root, 'src/index.ts')).href,
        },
      },
    );
    const next = () =>
      new Promise<string>((resolve) => {
        worker.once('message', resolve);
      });
    try {
      expect(await next()).toBe('recorded');
      const liveFiles = readdirSync(dir).filter((n) => n.endsWith('.spool'));
      expect(liveFiles.length).toBeGreaterThan(0);
      vi.advanceTimersByTime(30_000);
      // The live logger of the worker records more: they go to its open segment (its file descriptor).
      worker.postMessage('more');
      expect(await next()).toBe('recorded');
      await running.flush();
      const adoptedWhileLive = new Set(uuids(store)).size;
      worker.postMessage('stop');
      expect(await next()).toBe('stopped');
      // A logger started after: adopts whatever is left of the worker's spool.
      const after = new MemoryStore();
      const later = createActionLogger({ store: after, spool: { dir } });
      loggers.push(later);
      await later.flush();
      const everywhere = new Set([...uuids(store), ...uuids(after)].filter((u) => u.startsWith('live-')));
      expect({ adoptedWhileLive, storedSomewhere: everywhere.size }).toEqual({ adoptedWhileLive: 0, storedSomewhere: 30 });
    } finally {
      await worker.terminate();
    }
  });
});
