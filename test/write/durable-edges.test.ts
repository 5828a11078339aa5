/**
 * Durable delivery at its edges (spool, close, shutdown): several loggers or copies of the package in one process,
 * containers sharing a spool folder, a full disk, a reused pid, a deadline under the 'block' policy; adoption while
 * running (a file that cannot be read, a close under way, a live logger of another thread of the process).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActionLogger, type ActionLogger, MemoryStore } from 'actionlog';
import { holdLock, releaseLock } from '../../src/write/spool/spool-dir.js';
import { GatedStore, OutageStore, storedCounts } from '../support/stores.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const childScript = fileURLToPath(new URL('../support/durable-child.ts', import.meta.url));
const folders: string[] = [];
const loggers: ActionLogger[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const l of loggers.splice(0)) await l.close({ timeout: 100 }).catch(() => {});
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'actionlog-durable-'));
  folders.push(dir);
  return dir;
}

/** Starts a child scenario; resolves its first IPC message, its exit, and its output. */
async function child(args: string[]) {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = { stdout: '', stderr: '' };
  proc.stdout!.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const message = await new Promise<string>((resolve, reject) => {
    proc.once('message', (m: string) => {
      resolve(m);
    });
    void exited.then(() => {
      reject(new Error(`the child exited first: ${output.stderr}`));
    });
  });
  return { proc, message, exited, output };
}

/** What a child scenario prints (see durable-child.ts). */
interface ChildReport {
  pid?: number;
  stats: { dropped: number; spool: { spooled: number } };
  errors: string[];
  stored: string[];
  torn?: number;
}

/** Runs `command` and resolves each JSON line it printed once it ends, or once `lines` were printed (then it runs on). */
function jsonLines(command: string, args: string[], lines = Number.POSITIVE_INFINITY) {
  const proc = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const parsed = () =>
    output.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ChildReport);
  const printed = new Promise<ChildReport[]>((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      output.stdout += chunk.toString();
      if (parsed().length >= lines) resolve(parsed());
    });
    proc.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    void exited.then(() => {
      if (parsed().length >= Math.min(lines, 1)) resolve(parsed());
      else reject(new Error(`exited: ${output.stderr}`));
    });
  });
  return { proc, printed, exited, output };
}

const tsxChild = ['--import', 'tsx', childScript];
/** PID and mount namespaces (`unshare`, a tmpfs) need root. */
const asRoot = process.getuid?.() === 0;

/** Resolves what `p` gives, or 'timeout' after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([
    p,
    new Promise<'timeout'>((resolve) =>
      setTimeout(() => {
        resolve('timeout');
      }, ms).unref(),
    ),
  ]);
}

describe('installShutdownHandlers', () => {
  it('two loggers of one app, each with its handlers and no handler of the app: SIGTERM still stops the server and ends the process', async () => {
    const { proc, exited, output } = await child(['two-shutdowns']);
    proc.kill('SIGTERM');
    const end = await within(exited, 8000);
    if (end === 'timeout') proc.kill('SIGKILL');
    expect(end, output.stderr).toEqual({ code: null, signal: 'SIGTERM' });
  }, 15_000);
});

describe('spool: several processes on one machine', () => {
  it("adopts a dead process's spool even when its pid now belongs to another process (pid reuse)", async () => {
    const dir = folder();
    const a = jsonLines(process.execPath, [...tsxChild, 'spool-away', dir, '20', 'a'], 1);
    const [first] = await a.printed;
    a.proc.kill('SIGKILL');
    await a.exited;
    // The pid of the dead process is taken by an unrelated one: as after a container restart, or pid wrap-around.
    const other = spawn('sleep', ['60']);
    try {
      for (const name of readdirSync(dir))
        renameSync(join(dir, name), join(dir, name.replace(`-${String(first?.pid)}-`, `-${String(other.pid)}-`)));
      const [replayed] = await jsonLines(process.execPath, [...tsxChild, 'replay', dir]).printed;
      expect(replayed?.stored.length).toBe(20);
    } finally {
      other.kill('SIGKILL');
    }
  }, 60_000);
});

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

/** What a logger started next on the folder stores of the files left there. */
async function storedByNextStart(dir: string): Promise<string[]> {
  const store = new MemoryStore();
  const later = createActionLogger({ store, spool: { dir } });
  loggers.push(later);
  await later.flush();
  return uuids(store);
}

/** Waits until `logger` has put `n` documents in its spool files. */
async function spooled(logger: ActionLogger, n: number): Promise<void> {
  await vi.waitFor(
    () => {
      expect(logger.stats().spool?.spooled).toBe(n);
    },
    { timeout: 5000 },
  );
}

describe('spool: a process that dies while another runs', () => {
  it('the running logger adopts the files it left within half a minute, and stores each document once', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const dir = folder();
      const store = new MemoryStore();
      const running = createActionLogger({ store, spool: { dir } });
      loggers.push(running);
      await leaveDead(dir, 20, 'gone');
      await running.run({ requestUuid: 'running-0' }, () => running.record({ action: 'tick' }));
      vi.advanceTimersByTime(20_000);
      await running.flush();
      // Not yet: the spool looks for dead processes' files every third renewal of its lock.
      expect(store.requests().map((r) => r.request_uuid)).toEqual(['running-0']);
      vi.advanceTimersByTime(10_000);
      // Stored in a batch on the writer's timer, as any replay.
      await vi.waitFor(
        () => {
          expect(store.requests()).toHaveLength(21);
        },
        { timeout: 5000 },
      );
      expect(new Set(store.requests().map((r) => r.request_uuid)).size).toBe(21);
      expect(running.stats().spool).toMatchObject({ replayed: 20, pending: 0 });
      // Once stored, the adopted files are gone: only the running logger's lock (and its open file) stay.
      await running.flush();
      expect(readdirSync(dir).filter((name) => !name.includes(`-${process.pid}-`))).toEqual([]);
      expect(readdirSync(dir).filter((name) => name.endsWith('.lock'))).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a logger stalled past the lease, whose files another adopted meanwhile, spools again what only it held: each document stored once', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const dir = folder();
    const store = new OutageStore();
    const errors: Error[] = [];
    const stalled = createActionLogger({
      store,
      spool: { dir },
      batchSize: 4,
      retryDelayMs: 1,
      maxRetryDelayMs: 5,
      onError: (e) => errors.push(e),
    });
    loggers.push(stalled);
    const record = async (logger: ActionLogger, prefix: string, from: number, to: number) => {
      for (let i = from; i < to; i++) await logger.run({ requestUuid: `${prefix}-${i}` }, () => logger.record({ action: 'tick' }));
    };
    await record(stalled, 'before', 0, 4);
    // Once the store is known away, what comes next waits in the files.
    while (stalled.stats().retried === 0) await sleep(5);
    await record(stalled, 'before', 4, 40);
    // It stalls: its lock goes unrenewed for a minute, and another process takes it for dead and adopts its files.
    const lock = join(dir, readdirSync(dir).find((name) => name.endsWith('.lock')) ?? 'no lock');
    releaseLock(lock);
    utimesSync(lock, new Date(Date.now() - 2 * 60_000), new Date(Date.now() - 2 * 60_000));
    const adopter = createActionLogger({ store, spool: { dir }, onError: () => {} });
    loggers.push(adopter);
    expect(adopter.stats().spool?.pending).toBeGreaterThan(0);
    // Resumed, it writes on before its next renewal: to the file it had open, the adopter's now, read already.
    await record(stalled, 'after', 0, 20);
    // Told once, at its next renewal, though the store stays away past the one after.
    vi.advanceTimersByTime(20_000);
    expect(errors.map(String).filter((e) => e.includes('taken by another'))).toEqual([
      expect.stringMatching(
        /spool files of this process .* were taken by another one .*; the \d+ lines of the file this one was writing not stored yet are spooled again$/,
      ),
    ]);
    store.up();
    await Promise.all([stalled.flush(), adopter.flush()]);
    const counts = await storedCounts(store);
    const expected = [...Array.from({ length: 40 }, (_, i) => `before-${i}`), ...Array.from({ length: 20 }, (_, i) => `after-${i}`)];
    expect([...counts.keys()].sort()).toEqual(expected.sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(stalled.stats().spool).toMatchObject({ pending: 0, bytes: 0 });
  });

  it('a logger stalled past the lease, whose files another adopted and stored, dies before its next renewal: what it wrote on resuming is adopted later', async () => {
    // The clock moves on while no timer of the stalled logger runs; the rest of the test keeps real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], shouldAdvanceTime: true });
    const dir = folder();
    // Its store stays away: what it holds in memory dies with it.
    const away = new OutageStore();
    const store = new MemoryStore();
    const errors: Error[] = [];
    const stalled = createActionLogger({
      store: away,
      spool: { dir },
      retryDelayMs: 1,
      maxRetryDelayMs: 5,
      onError: (e) => errors.push(e),
    });
    loggers.push(stalled);
    const record = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) await stalled.run({ requestUuid: `${prefix}-${i}` }, () => stalled.record({ action: 'tick' }));
    };
    await record('before', 4);
    while (stalled.stats().retried === 0) await sleep(5);
    await record('more', 20);
    await spooled(stalled, 24);
    const lock = join(dir, readdirSync(dir).find((name) => name.endsWith('.lock')) ?? 'no lock');
    // Two minutes without a renewal, as a paused process spends them.
    const stall = () => {
      releaseLock(lock);
      vi.setSystemTime(Date.now() + 2 * 60_000);
    };
    // Another process takes it for dead meanwhile, adopts its files, stores them and deletes them.
    stall();
    const adopter = createActionLogger({ store, spool: { dir }, onError: () => {} });
    loggers.push(adopter);
    await adopter.flush();
    // Resumed, it writes to its files before its timer renews the lock, then dies: no renewal ever runs.
    await record('after', 20);
    await spooled(stalled, 44);
    stall();
    const successor = createActionLogger({ store, spool: { dir }, onError: () => {} });
    loggers.push(successor);
    await successor.flush();
    const counts = await storedCounts(store);
    const expected = ['before', 'more', 'after'].flatMap((p) => Array.from({ length: p === 'before' ? 4 : 20 }, (_, i) => `${p}-${i}`));
    expect([...counts.keys()].sort()).toEqual(expected.sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(errors.map(String).filter((e) => e.includes('taken by another'))).toHaveLength(1);
  });

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
    // The renewal returns before the files are read: requests served meanwhile do not wait for the reads.
    expect({ errors: errors.length, pending: running.stats().spool?.pending }).toEqual({ errors: 0, pending: 0 });
    await vi.waitFor(
      () => {
        expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/cannot be read: EISDIR/)]);
      },
      { timeout: 5000 },
    );
    await running.run({ requestUuid: 'running-0' }, () => running.record({ action: 'tick' }));
    // The rest is adopted with the report, then stored.
    await vi.waitFor(
      () => {
        expect(new Set(uuids(store)).size).toBe(lines + 1);
      },
      { timeout: 5000 },
    );
    await running.flush();
    const stored = new Set(uuids(store));
    expect(stored.has('running-0')).toBe(true);
    // Every document of the files it could read is stored once; nothing is counted that is not there.
    expect({ stored: store.requests().length, queued: running.stats().queued }).toEqual({ stored: stored.size, queued: 0 });
    expect(stored.size).toBe(lines + 1);
    expect(running.stats().spool).toMatchObject({ pending: 0 });
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
    expect(new Set(await storedByNextStart(dir)).size).toBe(100);
  });

  it('a logger that starts closing while it counts the files of a dead process leaves them under its name, for the next start', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const dir = folder();
    const running = createActionLogger({ store: new MemoryStore(), spool: { dir }, onError: () => {} });
    loggers.push(running);
    await leaveDead(dir, 50, 'gone');
    const owner = readdirSync(dir)
      .find((n) => n.endsWith('.lock'))!
      .slice(0, -'.lock'.length);
    // The sweep counts the files apart from the requests; the close begins before it is done.
    vi.advanceTimersByTime(30_000);
    expect(await running.close()).toEqual({ left: 0 });
    expect(readdirSync(dir).filter((n) => n.startsWith(owner))).toEqual([]);
    expect(new Set(await storedByNextStart(dir)).size).toBe(50);
  });

  it('a process taken for dead that comes back while its files are counted keeps them', async () => {
    const dir = folder();
    // On real timers: its renewals do not run while the running one's do.
    const away = new OutageStore();
    const stalled = createActionLogger({ store: away, spool: { dir }, retryDelayMs: 1, maxRetryDelayMs: 5, onError: () => {} });
    loggers.push(stalled);
    for (let i = 0; i < 20; i++) await stalled.run({ requestUuid: `own-${i}` }, () => stalled.record({ action: 'tick' }));
    await spooled(stalled, 20);
    const lock = join(dir, readdirSync(dir).find((name) => name.endsWith('.lock')) ?? 'no lock');
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const store = new MemoryStore();
    const running = createActionLogger({ store, spool: { dir }, onError: () => {} });
    loggers.push(running);
    // Its lock unrenewed past the lease when the sweep looks, renewed again before the count is done.
    releaseLock(lock);
    utimesSync(lock, new Date(Date.now() - 2 * 60_000), new Date(Date.now() - 2 * 60_000));
    vi.advanceTimersByTime(30_000);
    holdLock(lock);
    await running.flush();
    expect(uuids(store)).toEqual([]);
    away.up();
    await stalled.flush();
    expect(new Set(uuids(away)).size).toBe(20);
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
      const everywhere = new Set([...uuids(store), ...(await storedByNextStart(dir))].filter((u) => u.startsWith('live-')));
      expect({ adoptedWhileLive, storedSomewhere: everywhere.size }).toEqual({ adoptedWhileLive: 0, storedSomewhere: 30 });
    } finally {
      await worker.terminate();
    }
  });
});

describe('spool: containers sharing a volume', () => {
  /** A process in PID and UTS namespaces of its own, as in a container: it is pid 1 there, under its own host name. */
  const inContainer = (host: string, args: string[], lines?: number) =>
    jsonLines(
      'unshare',
      [
        '--pid',
        '--uts',
        '--fork',
        '--mount-proc',
        '--kill-child',
        'sh',
        '-c',
        `hostname ${host} && exec "$0" "$@"`,
        process.execPath,
        ...tsxChild,
        ...args,
      ],
      lines,
    );
  /** Makes every lock in `dir` look as if its process stopped renewing it ten minutes ago. */
  const ageLocks = (dir: string) => {
    const past = new Date(Date.now() - 10 * 60_000);
    for (const name of readdirSync(dir)) if (name.endsWith('.lock')) utimesSync(join(dir, name), past, past);
  };

  it.skipIf(!asRoot)(
    'two replicas, both pid 1: each keeps its own files, a third leaves them alone while they run, and takes them once they are gone',
    async () => {
      const dir = folder();
      const a = inContainer('replica-a', ['spool-away', dir, '20', 'a'], 1);
      const [fromA] = await a.printed;
      const b = inContainer('replica-b', ['spool-away', dir, '20', 'b'], 1);
      const [fromB] = await b.printed;
      expect([fromA?.pid, fromB?.pid]).toEqual([1, 1]);
      expect([fromA?.stats.spool.spooled, fromB?.stats.spool.spooled]).toEqual([20, 20]);
      expect([...(fromA?.errors ?? []), ...(fromB?.errors ?? [])]).toEqual([]);
      const [beside] = await inContainer('replica-c', ['replay', dir]).printed;
      expect(beside?.stored).toEqual([]);
      a.proc.kill('SIGKILL');
      b.proc.kill('SIGKILL');
      await Promise.all([a.exited, b.exited]);
      ageLocks(dir);
      const [after] = await inContainer('replica-d', ['replay', dir]).printed;
      const expected = ['a', 'b'].flatMap((prefix) => Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`));
      expect([...(after?.stored ?? [])].sort()).toEqual(expected.sort());
    },
    60_000,
  );

  it('renews its lock while it runs, which is how processes of other containers know it is alive', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const dir = folder();
      loggers.push(createActionLogger({ store: new MemoryStore(), spool: { dir } }));
      const lock = join(dir, readdirSync(dir).find((name) => name.endsWith('.lock')) ?? 'no lock');
      ageLocks(dir);
      expect(Date.now() - statSync(lock).mtimeMs).toBeGreaterThan(60_000);
      vi.advanceTimersByTime(10_000);
      expect(Date.now() - statSync(lock).mtimeMs).toBeLessThan(5_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it.skipIf(!asRoot)(
    'a container restarted under its host name adopts what its earlier run spooled at once',
    async () => {
      const dir = folder();
      const a = inContainer('replica-a', ['spool-away', dir, '20', 'a'], 1);
      await a.printed;
      a.proc.kill('SIGKILL');
      await a.exited;
      const [restarted] = await inContainer('replica-a', ['replay', dir]).printed;
      expect(restarted?.stored.length).toBe(20);
    },
    60_000,
  );
});

describe('spool: a full disk', () => {
  it.skipIf(!asRoot)(
    'a document counted as spooled is stored at the next start, also after an append the full disk cut short',
    async () => {
      const mount = folder();
      const script = [
        `mount -t tmpfs -o size=256k tmpfs "${mount}"`,
        `dd if=/dev/zero of="${mount}/filler" bs=1k count=160 2>/dev/null`,
        `"${process.execPath}" ${tsxChild.join(' ')} enospc "${mount}/spool" "${mount}/filler"`,
        `"${process.execPath}" ${tsxChild.join(' ')} replay "${mount}/spool"`,
        `umount "${mount}"`,
      ].join('; ');
      const run = jsonLines('unshare', ['--mount', 'sh', '-c', script]);
      const [full, replayed] = await run.printed;
      expect(full?.stats.dropped).toBeGreaterThan(0);
      // Every document the first process counted as spooled (its response released) is in the next start's store.
      expect({ stored: replayed?.stored.length, torn: replayed?.torn }).toEqual({ stored: full?.stats.spool.spooled, torn: 0 });
    },
    60_000,
  );
});

describe('close()', () => {
  it('called twice at once (the app and a shutdown hook): the second resolves when the drain is done, not before', async () => {
    const store = new GatedStore();
    const logger = createActionLogger({ store, onError: () => {} });
    await logger.run({ requestUuid: 'late' }, () => logger.record({ action: 'tick' }));
    const first = logger.close();
    let secondDone = false;
    const second = logger.close().then((r) => {
      secondDone = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Nothing is stored yet: a caller that exits once its close() resolves loses the document.
    expect({ secondDone, stored: store.requests().length }).toEqual({ secondDone: false, stored: 0 });
    store.answer();
    expect(await first).toEqual({ left: 0 });
    expect(await second).toEqual({ left: 0 });
  });

  it('with a spool, called twice with a deadline: both say how many documents stay in the spool', async () => {
    const store = new GatedStore();
    const logger = createActionLogger({ store, spool: { dir: folder() }, onError: () => {} });
    loggers.push(logger);
    await logger.run({ requestUuid: 'late' }, () => logger.record({ action: 'tick' }));
    const [a, b] = await Promise.all([logger.close({ timeout: 100 }), logger.close({ timeout: 100 })]);
    expect([a, b]).toEqual([{ left: 1 }, { left: 1 }]);
  });
});

describe('spool: two copies of the package in one process (ESM and CommonJS, or two versions)', () => {
  it('a logger of each on one spool folder: neither drops a document, both are stored', async () => {
    const dir = folder();
    vi.resetModules();
    const one = await import('../../src/index.js');
    vi.resetModules();
    const other = await import('../../src/index.js');
    expect(one.createActionLogger).not.toBe(other.createActionLogger);
    const errors: Error[] = [];
    const stores = [new one.MemoryStore(), new other.MemoryStore()];
    const pair = [
      one.createActionLogger({ store: stores[0]!, spool: { dir }, onError: (e) => errors.push(e) }),
      other.createActionLogger({ store: stores[1]!, spool: { dir }, onError: (e) => errors.push(e) }),
    ];
    loggers.push(...pair);
    for (const [n, logger] of pair.entries())
      for (let i = 0; i < 10; i++) await logger.run({ requestUuid: `copy${n}-${i}` }, () => logger.record({ action: 'tick' }));
    await Promise.all(pair.map((l) => l.flush()));
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(stores.map((s) => s.requests().length)).toEqual([10, 10]);
  });
});

describe('close({ timeout }) with a spool', () => {
  it('block policy, full spool, store down, closed with a deadline: left plus dropped accounts for every document', async () => {
    const store = new OutageStore();
    const logger = createActionLogger({
      store,
      spool: { dir: folder(), maxBytes: 64 * 1024, policy: 'block', blockTimeoutMs: 60_000 },
      retryDelayMs: 5,
      maxRetryDelayMs: 20,
      onError: () => {},
    });
    const pad = 'x'.repeat(2000);
    for (let i = 0; i < 60; i++) await logger.run({ metadata: { pad } }, () => logger.record({ action: 'tick' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { left } = await logger.close({ timeout: 200 });
    const s = logger.stats();
    expect(s.dropped).toBeGreaterThan(0);
    // The README: close resolves { left }, the documents not stored.
    expect(left).toBe(60 - s.stored);
  });
});
