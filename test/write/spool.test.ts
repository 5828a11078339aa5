import { spawn } from 'node:child_process';
import { pbkdf2 as pbkdf2Callback } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import express from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ActionEntry,
  ActionLogConfigError,
  ActionLogSpoolFullError,
  type ActionLogger,
  type ActionLoggerOptions,
  createActionLogger,
  MemoryStore,
  type Store,
  type StoreBatch,
} from 'actionlog';
import { actionLog } from 'actionlog/express';
import { orderChange } from '../../examples/shared/orders.js';
import { emptyBatch } from '../../src/shared/batch-units.js';
import type { WriterOptions } from '../../src/write/batch-writer.js';
import type { DocumentUnit } from '../../src/write/document-unit.js';
import { SpoolFiles } from '../../src/write/spool/spool-files.js';
import { SpooledWriter } from '../../src/write/spool/spooled-writer.js';
import { setupStep } from '../../src/write/write-step.js';
import { spoolFiles, spoolLines } from '../support/spool-files.js';
import { GatedStore, OutageStore, PoisonStore, storedCounts } from '../support/stores.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pbkdf2 = promisify(pbkdf2Callback);
/** Threads in libuv's pool, which runs file work and `pbkdf2`. */
const THREAD_POOL = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const WRITER: WriterOptions = {
  batchSize: 10,
  maxBatchSize: 100,
  flushIntervalMs: 5,
  maxQueueSize: 1000,
  onQueueFull: 'drop-newest',
  maxRetries: 3,
  retryDelayMs: 1,
  maxRetryDelayMs: 5,
  maxQuarantine: 10,
  concurrentWrites: 1,
};
const folders: string[] = [];
const loggers: ActionLogger[] = [];
afterEach(async () => {
  for (const l of loggers.splice(0)) await l.close({ timeout: 100 }).catch(() => {});
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'actionlog-spool-'));
  folders.push(dir);
  return dir;
}

function make(store: Store, dir: string, options: Partial<ActionLoggerOptions> = {}) {
  const errors: Error[] = [];
  const logger = createActionLogger({
    store,
    retryDelayMs: 1,
    maxRetryDelayMs: 5,
    flushIntervalMs: 10,
    onError: (e) => errors.push(e),
    ...options,
    spool: { dir, ...options.spool },
  });
  loggers.push(logger);
  return { logger, errors };
}

/** Verifies `store` and expects nothing wrong but the links 1–6 of `chain`, which no checkpoint confirms. */
async function expectUnconfirmed(store: Store, key: { hmac: string }, chain: string | undefined) {
  const report = await createActionLogger({ store, integrity: { key } }).verify();
  expect({
    status: report.status,
    findings: report.findings.map(({ chain, problem, seq, to_seq }) => ({ chain, problem, seq, to_seq })),
  }).toEqual({ status: 'unverifiable', findings: [{ chain, problem: 'unconfirmed', seq: 1, to_seq: 6 }] });
  return report;
}

/** Verifies `store` and expects it intact: every link stored once, in order, and covered by a checkpoint. */
async function expectIntact(store: Store, key: { hmac: string }) {
  const report = await createActionLogger({ store, integrity: { key } }).verify({ keys: [key] });
  expect({ status: report.status, findings: report.findings }).toEqual({ status: 'intact', findings: [] });
  return report;
}

/** Records `n` runs, each one request document noted `<prefix><i>`, with a late append on every third. */
async function record(logger: ActionLogger, n: number, prefix = 'r'): Promise<void> {
  for (let i = 0; i < n; i++) {
    await logger.run({ requestUuid: `${prefix}${i}` }, () => logger.record({ action: 'tick', note: `${prefix}${i}` }));
  }
}

/**
 * Runs a logger on `dir` whose store is away, adopting `adopted` bytes of a dead process's spool, about all its own may
 * hold: its new documents need room, and the adopted segments it has not read back go first (`drop-oldest`). Then the
 * store answers, and the logger closes. Returns how many documents it dropped.
 */
async function dropAdoptedWhileAway(store: OutageStore, dir: string, adopted: number, key: { hmac: string }): Promise<number> {
  store.down = true;
  const spool = { dir, maxBytes: adopted + 8 * 1024, policy: 'drop-oldest' as const };
  const { logger } = make(store, dir, { spool, batchSize: 4, integrity: { key } });
  await record(logger, 4, 'w');
  while (logger.stats().retried === 0) await sleep(5);
  await record(logger, 30);
  await sleep(30);
  const { dropped } = logger.stats();
  store.up();
  await logger.close();
  return dropped;
}

/** Leaves `n` request documents in `dir`'s spool, unstored: a logger whose store is away records them and closes. */
async function spoolUnstored(dir: string, n: number): Promise<void> {
  const { logger } = make(new OutageStore(), dir);
  await record(logger, n);
  await logger.close({ timeout: 50 });
}

describe('spool', () => {
  it('appends every document to the spool before its store write, and deletes the file once all are stored', async () => {
    const dir = folder();
    const store = new OutageStore();
    const { logger } = make(store, dir);
    await record(logger, 20);
    // The writer has tried the store (and failed) by now, however busy the machine.
    for (const started = Date.now(); store.writes === 0 && Date.now() - started < 10_000;) await sleep(5);
    expect(store.writes).toBeGreaterThan(0);
    expect(spoolLines(dir)).toHaveLength(20);
    expect(logger.stats()).toMatchObject({ recorded: 20, stored: 0, dropped: 0, queued: 20, spool: { spooled: 20, dropped: 0 } });
    expect(logger.stats().spool?.bytes).toBeGreaterThan(0);
    expect(logger.stats().spool?.oldestAgeMs).toBeGreaterThanOrEqual(0);
    store.up();
    await logger.flush();
    expect(logger.stats()).toMatchObject({ stored: 20, queued: 0, spool: { bytes: 0, oldestAgeMs: null } });
    expect(spoolFiles(dir)).toEqual([]);
    expect([...(await storedCounts(store)).values()]).toEqual(Array(20).fill(1));
  });

  it('keeps what a closed logger could not store, and the next logger on the folder stores it at start', async () => {
    const dir = folder();
    const down = new OutageStore();
    const first = make(down, dir);
    await record(first.logger, 30);
    const { left } = await first.logger.close({ timeout: 50 });
    expect(left).toBe(30);
    expect(first.errors.at(-1)?.message).toMatch(/30 documents not stored; they stay in the spool/);
    expect(spoolLines(dir)).toHaveLength(30);

    const store = new MemoryStore();
    const second = make(store, dir);
    await second.logger.flush();
    expect(second.logger.stats().spool).toMatchObject({ replayed: 30, bytes: 0 });
    const counts = await storedCounts(store);
    expect([...counts.keys()]).toEqual(Array.from({ length: 30 }, (_, i) => `r${i}`));
    expect(spoolFiles(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/\.lock$/)]);
  });

  it('resolves flush() once the files of what it stored are deleted, not while their deletion is under way', async () => {
    const dir = folder();
    await spoolUnstored(dir, 30);
    expect(spoolFiles(dir)).toHaveLength(1);
    // The file is deleted in the background, by a thread of libuv's pool: keep them all busy as a loaded process
    // does, from the store's write on, so the deletion waits its turn while flush() sees the documents stored.
    const busy: Array<Promise<unknown>> = [];
    const store = new (class extends MemoryStore {
      override async write(batch: StoreBatch): Promise<void> {
        for (let i = 0; i < THREAD_POOL; i++) busy.push(pbkdf2('busy', 'salt', 100_000, 32, 'sha256'));
        await super.write(batch);
      }
    })();
    // No write on the writer's own timer: the adopted documents are stored by flush() itself, which then returns.
    const second = make(store, dir, { flushIntervalMs: 60_000 });
    await second.logger.flush();
    expect(busy.length).toBeGreaterThan(0);
    expect(second.logger.stats()).toMatchObject({ stored: 30, spool: { replayed: 30, bytes: 0 } });
    expect(spoolFiles(dir)).toEqual([]);
    await Promise.all(busy);
  });

  it('knows of the deletion of a segment read to its torn end from the moment it is settled', async () => {
    const dir = folder();
    await spoolUnstored(dir, 10);
    const [file] = spoolFiles(dir);
    const path = join(dir, file!);
    truncateSync(path, readFileSync(path).length - 5);
    const torn: Error[] = [];
    const files = new SpoolFiles({ dir, maxBytes: 1 << 20, fsync: 'group', fsyncIntervalMs: 50, fsyncEvery: 100 }, (e) => torn.push(e));
    files.open();
    try {
      // The complete lines, stored and settled: only the torn end is left to read.
      for (const unit of await files.read(1000)) files.settle(unit);
      expect(files.settledPos()).toBeLessThan(files.writePos);
      // A busy pool makes closing the file slow: the read is settled well before it resolves.
      const busy = Array.from({ length: THREAD_POOL }, () => pbkdf2('busy', 'salt', 100_000, 32, 'sha256'));
      const reading = files.read(1000);
      while (files.settledPos() < files.writePos) await new Promise(setImmediate);
      // Settled, as flush() sees it: the deletion it waits for is known already.
      await files.deleted();
      expect(spoolFiles(dir)).toEqual([]);
      expect(await reading).toEqual([]);
      expect(torn).toHaveLength(1);
      await Promise.all(busy);
    } finally {
      files.close();
    }
  });

  it('reads back at most the bytes asked for, and a longer first line only for a caller that holds none', async () => {
    const dir = folder();
    await spoolUnstored(dir, 6);
    const lines = spoolLines(dir).map((line) => Buffer.byteLength(line) + 1);
    const files = new SpoolFiles({ dir, maxBytes: 1 << 20, fsync: 'group', fsyncIntervalMs: 50, fsyncEvery: 100 }, () => {});
    files.open();
    try {
      // A line longer than the room waits while the caller holds some, and comes alone once it holds none.
      expect(await files.read(100, 1, false)).toEqual([]);
      const one = await files.read(100, 1);
      expect(one.map((u) => u.bytes)).toEqual(lines.slice(0, 1));
      const two = await files.read(100, (lines[1] ?? 0) + (lines[2] ?? 0) + 1);
      expect(two.map((u) => u.bytes)).toEqual(lines.slice(1, 3));
      expect((await files.read(100)).map((u) => u.bytes)).toEqual(lines.slice(3));
    } finally {
      files.close();
    }
  });

  it('stores each document once when the same spool lines are replayed twice (ids given at capture)', async () => {
    const dir = folder();
    const first = make(new OutageStore(), dir);
    await record(first.logger, 10);
    // Late events: an append to a request whose document is already spooled.
    let scope: ReturnType<ActionLogger['current']>;
    await first.logger.run({ requestUuid: 'late' }, () => {
      scope = first.logger.current();
      first.logger.record({ action: 'on_time', note: 'on time' });
    });
    await sleep(5);
    first.logger.recordModelChange(orderChange('o1'), scope);
    await first.logger.close({ timeout: 50 });
    expect(spoolLines(dir)).toHaveLength(12);
    const copies = spoolFiles(dir).map((f) => [f, readFileSync(join(dir, f))] as const);

    const store = new MemoryStore();
    const replay = async () => {
      const { logger } = make(store, dir);
      await logger.close();
    };
    await replay();
    expect(spoolFiles(dir)).toEqual([]);
    for (const [name, bytes] of copies) writeFileSync(join(dir, name), bytes);
    await replay();
    const counts = await storedCounts(store);
    expect(counts.size).toBe(11);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const reader = createActionLogger({ store });
    const [late] = (await reader.query({ kind: 'requests', request_uuid: 'late' })).items;
    // The append applied once: one model log, not two.
    expect(late?.details.model_logs.map((m) => m.model_id)).toEqual(['o1']);
    expect(late?.details.actions.map((a) => a.note)).toEqual(['on time']);
  });

  it('replays every complete line of a file cut at a random byte, and reports the torn one', async () => {
    const dir = folder();
    await spoolUnstored(dir, 40);
    const [file] = spoolFiles(dir);
    const path = join(dir, file!);
    const bytes = readFileSync(path);
    const cut = 1 + Math.floor(Math.random() * (bytes.length - 2));
    truncateSync(path, cut);
    const complete = bytes.subarray(0, cut).toString('utf8').split('\n').length - 1;
    const torn = bytes[cut - 1] === 10 ? 0 : 1;

    const store = new MemoryStore();
    const second = make(store, dir);
    await second.logger.flush();
    const counts = await storedCounts(store);
    expect([...counts.keys()]).toEqual(Array.from({ length: complete }, (_, i) => `r${i}`));
    expect(second.logger.stats().spool).toMatchObject({ replayed: complete, torn });
    const reports = second.errors.filter((e) => /spool line .* is skipped/.test(e.message));
    expect(reports).toHaveLength(torn);
    expect(spoolFiles(dir)).toEqual([]);
  });

  it('drop-newest: past maxBytes every further document is dropped, counted and reported', async () => {
    const dir = folder();
    const store = new OutageStore();
    const { logger, errors } = make(store, dir, { spool: { dir, maxBytes: 64 * 1024, policy: 'drop-newest' } });
    await record(logger, 400);
    await sleep(30);
    const { spool, dropped } = logger.stats();
    expect(spool!.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(dropped).toBeGreaterThan(0);
    expect(spool!.spooled + spool!.dropped).toBe(400);
    await sleep(1100);
    const reported = errors.filter((e) => e instanceof ActionLogSpoolFullError).reduce((n, e) => n + e.dropped, 0);
    expect(reported).toBe(dropped);
    store.up();
    await logger.flush();
    const counts = await storedCounts(store);
    // The first ones were kept, the last ones dropped.
    expect([...counts.keys()]).toEqual(Array.from({ length: spool!.spooled }, (_, i) => `r${i}`));
  });

  it('drop-oldest: past maxBytes the oldest spooled segment goes, counted, and the newest are kept', async () => {
    const dir = folder();
    const store = new OutageStore();
    const { logger } = make(store, dir, { spool: { dir, maxBytes: 64 * 1024, policy: 'drop-oldest' }, batchSize: 4 });
    // Once the store is known to be away, new documents stay in the files, where the policy can reach them.
    await record(logger, 4, 'w');
    while (logger.stats().retried === 0) await sleep(5);
    await record(logger, 400);
    await sleep(30);
    const { spool, dropped } = logger.stats();
    expect(spool!.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(dropped).toBeGreaterThan(0);
    store.up();
    await logger.flush();
    const counts = await storedCounts(store);
    expect(counts.size + dropped).toBe(404);
    // What went is one run of the oldest documents that were not being written (the first segment, shared with
    // the four retried ones, was): the newest are kept.
    const missing = Array.from({ length: 400 }, (_, i) => i).filter((i) => !counts.has(`r${i}`));
    expect(missing).toHaveLength(dropped);
    expect(missing.at(-1)! - missing[0]! + 1).toBe(missing.length);
    expect(counts.has('r399')).toBe(true);
  });

  it('drop-oldest with integrity: the links of the segments dropped are recorded lost, and the trail verifies intact', async () => {
    const dir = folder();
    const store = new OutageStore();
    const key = { hmac: 'a-secret-of-at-least-32-characters!!' };
    const { logger } = make(store, dir, { spool: { dir, maxBytes: 64 * 1024, policy: 'drop-oldest' }, batchSize: 4, integrity: { key } });
    await record(logger, 4, 'w');
    while (logger.stats().retried === 0) await sleep(5);
    await record(logger, 300);
    await sleep(30);
    const { dropped } = logger.stats();
    expect(dropped).toBeGreaterThan(0);
    store.up();
    await logger.close();
    const report = await createActionLogger({ store, integrity: { key } }).verify({ keys: [key] });
    expect(report.summary.counts).toMatchObject({ deleted: 0, lost: 2 * dropped });
    expect(report.status).toBe('intact');
  });

  it("drop-oldest with integrity: an adopted spool's segments dropped are recorded lost in their writer's chain", async () => {
    const dir = folder();
    const key = { hmac: 'a-secret-of-at-least-32-characters!!' };
    const first = make(new OutageStore(), dir, { spool: { dir, maxBytes: 1024 * 1024 }, integrity: { key } }).logger;
    await record(first, 400, 'a');
    expect({ left: await first.close({ timeout: 50 }), dropped: first.stats().dropped }).toEqual({ left: { left: 400 }, dropped: 0 });
    const adopted = spoolFiles(dir).reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
    const store = new OutageStore();
    // In the middle of the first's chain.
    const dropped = await dropAdoptedWhileAway(store, dir, adopted, key);
    const stored = [...(await storedCounts(store)).keys()].filter((id) => id.startsWith('a'));
    expect({ dropped, newestStored: stored.includes('a399') }).toEqual({ dropped: 400 - stored.length, newestStored: true });
    const report = await createActionLogger({ store, integrity: { key } }).verify({ keys: [key] });
    // A request document and its action entry each, in the first logger's chain.
    expect({ status: report.status, findings: report.findings.map(({ chain, problem }) => ({ chain, problem })) }).toEqual({
      status: 'intact',
      findings: [{ chain: first.integrityChain, problem: 'lost' }],
    });
    expect(report.summary.counts.lost).toBe(2 * dropped);
  });

  it('drop-oldest with integrity: an adopted line its writer had stored and signed is not recorded lost over its signature', async () => {
    const dir = folder();
    const key = { hmac: 'a-secret-of-at-least-32-characters!!' };
    const store = new OutageStore();
    const first = make(store, dir, { spool: { dir, maxBytes: 1024 * 1024 }, integrity: { key } }).logger;
    await record(first, 400, 'a');
    await sleep(30);
    // As the files are when the first process dies after its store took every document and signed them, before it
    // settled their lines.
    const files = new Map(spoolFiles(dir).map((file) => [file, readFileSync(join(dir, file))]));
    store.up();
    await first.close();
    for (const [file, bytes] of files) writeFileSync(join(dir, file), bytes);
    const adopted = [...files.values()].reduce((sum, bytes) => sum + bytes.length, 0);
    expect(await dropAdoptedWhileAway(store, dir, adopted, key)).toBeGreaterThan(0);
    // The first writer's checkpoints cover all it stored: its Merkle roots hold, and nothing is missing.
    await expectIntact(store, key);
  });

  /**
   * A logger whose store is away leaves `refused-0`..`refused-5` in a spool (each line through `edit` first); the next
   * one adopts them, its store refusing `refused-3`. Returns the first logger's chain and the trail's verify report.
   */
  async function refusedOnceAdopted(edit: (line: string) => string = (line) => line) {
    const dir = folder();
    const key = { hmac: 'a-secret-of-at-least-32-characters!!' };
    const first = make(new OutageStore(), dir, { integrity: { key } }).logger;
    await record(first, 6, 'refused-');
    expect(await first.close({ timeout: 50 })).toEqual({ left: 6 });
    for (const file of spoolFiles(dir)) {
      const lines = readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
      writeFileSync(join(dir, file), lines.map((line) => `${edit(line)}\n`).join(''));
    }
    const store = new PoisonStore('refused-3');
    const { logger } = make(store, dir, { integrity: { key } });
    await logger.flush();
    expect(logger.stats().quarantined).toBe(1);
    await logger.close();
    return { chain: first.integrityChain, report: await createActionLogger({ store, integrity: { key } }).verify({ keys: [key] }) };
  }

  it("with integrity: an adopted spool's document the store refuses is recorded lost in its writer's chain", async () => {
    const { chain: firstChain, report } = await refusedOnceAdopted();
    expect({
      status: report.status,
      findings: report.findings.map(({ chain, problem, seq, to_seq }) => ({ chain, problem, seq, to_seq })),
    }).toEqual({
      status: 'intact',
      findings: [{ chain: firstChain, problem: 'lost', seq: 7, to_seq: 8 }],
    });
  });

  it('with integrity: an adopted line whose MAC does not hold is never recorded lost when the store refuses it', async () => {
    // The refused line's MAC no longer holds: whoever could write the folder must not get a link called lost.
    const { report } = await refusedOnceAdopted((line) => {
      if (!line.includes('refused-3')) return line;
      const json = `${line.slice(9, line.lastIndexOf(',"mac":"'))},"mac":"${Buffer.alloc(32).toString('base64')}"}`;
      return `${crc32(json).toString(16).padStart(8, '0')} ${json}`;
    });
    expect(report.summary.counts).toMatchObject({ lost: 0, deleted: 2 });
  });

  it('drop-oldest: a segment being read back is never the one dropped, so no document is both dropped and stored', async () => {
    const dir = folder();
    const store = new OutageStore();
    const { logger, errors } = make(store, dir, { spool: { dir, maxBytes: 64 * 1024, policy: 'drop-oldest' }, batchSize: 4 });
    // A document larger than a segment (an eighth of maxBytes): each has a segment of its own, the spool holds
    // about six, and every new one needs the oldest to go.
    const note = 'x'.repeat(10 * 1024);
    let recorded = 0;
    const recordOne = async () => {
      const id = `r${recorded++}`;
      await logger.run({ requestUuid: id }, () => logger.record({ action: 'tick', note }));
    };
    store.delayMs = 5;
    for (let round = 0; round < 4; round++) {
      store.down = true;
      const retried = logger.stats().retried;
      await recordOne();
      while (logger.stats().retried === retried) await sleep(5);
      const dropped = logger.stats().dropped;
      for (let i = 0; i < 20; i++) await recordOne();
      await sleep(30);
      expect(logger.stats().dropped).toBeGreaterThan(dropped);
      // The store comes back slowly. Its first write done, the writer reads the oldest segment back, while a new
      // document arrives each turn of the event loop and needs room: drops land while that read is under way.
      store.up();
      for (let i = 0; i < 80; i++) {
        await recordOne();
        await new Promise(setImmediate);
      }
      await logger.flush();
    }
    const { dropped, stored, spool } = logger.stats();
    const counts = await storedCounts(store);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Each document either stored or counted dropped, never both.
    expect({ stored: counts.size, dropped }).toEqual({ stored: recorded - dropped, dropped });
    // Nor was a read cut short by a drop under it (it found nothing left and reported a torn line).
    expect({ stored, torn: spool!.torn }).toEqual({ stored: counts.size, torn: 0 });
    await logger.close();
    const reported = errors.filter((e) => e instanceof ActionLogSpoolFullError).reduce((n, e) => n + e.dropped, 0);
    expect(reported).toBe(dropped);
    // Else only the store's failed writes while it was away: no read of the spool failed.
    const others = errors.filter((e) => !(e instanceof ActionLogSpoolFullError)).map((e) => e.message);
    expect(others.filter((m) => !/^Store write failed \(attempt \d+\), retrying$/.test(m))).toEqual([]);
  });

  it('block: a document waits for room while the store comes back, and is dropped only after blockTimeoutMs', async () => {
    const dir = folder();
    const store = new OutageStore();
    const { logger } = make(store, dir, { spool: { dir, maxBytes: 64 * 1024, policy: 'block', blockTimeoutMs: 2000 } });
    await record(logger, 400);
    await sleep(50);
    expect(logger.stats().dropped).toBe(0);
    expect(logger.stats().queued).toBe(400);
    store.up();
    await logger.flush();
    expect(logger.stats()).toMatchObject({ dropped: 0, stored: 400 });
    expect((await storedCounts(store)).size).toBe(400);

    store.down = true;
    const before = logger.stats().spool!.spooled;
    await record(logger, 400, 's');
    await sleep(300);
    expect(logger.stats().dropped).toBe(0);
    await sleep(2000);
    const { dropped, spool } = logger.stats();
    expect(dropped).toBeGreaterThan(0);
    expect(spool!.spooled - before + dropped).toBe(400);
  });

  it('hands a hung store at most 16 MiB of large documents; the rest waits in the files, and all are stored once it answers', async () => {
    const store = new GatedStore();
    const { logger } = make(store, folder());
    // About 640 KiB each (80 strings of 8 KiB, the longest kept): some 30 MiB in all, 48 documents, far fewer than
    // the 400 the store writer may hold by number.
    const state = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`f${i}`, String(i).padEnd(8 * 1024, 'x')]));
    for (let i = 0; i < 48; i++) {
      await logger.run({ requestUuid: `big-${i}` }, () => {
        logger.recordModelChange(orderChange(`o${i}`, { new_object: state }));
      });
      // Each in a turn of its own: handed to the store writer as it is spooled, while the cap allows.
      await sleep(1);
    }
    await vi.waitFor(() => {
      expect(logger.stats().spool?.spooled).toBe(48);
    });
    const { bytes = 0, memoryBytes = Infinity } = logger.stats().spool ?? {};
    expect(bytes).toBeGreaterThan(30 * 1024 * 1024);
    expect(memoryBytes).toBeGreaterThan(0);
    expect(memoryBytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    store.answer();
    await logger.flush();
    const counts = await storedCounts(store);
    expect(counts.size).toBe(48);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(logger.stats().spool).toMatchObject({ pending: 0, memoryBytes: 0 });
  });

  it('adopts the spool of a process killed with SIGKILL and stores all it had spooled, once', async () => {
    const dir = folder();
    const script = fileURLToPath(new URL('../support/spool-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, '50'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => {
        reject(new Error(`the child exited with ${code} before spooling`));
      });
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(readdirSync(dir).some((f) => f.endsWith('.lock'))).toBe(true);

    const store = new MemoryStore();
    const { logger } = make(store, dir);
    await logger.flush();
    const counts = await storedCounts(store);
    expect([...counts.keys()]).toEqual(Array.from({ length: 50 }, (_, i) => `child-${i}`));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(logger.stats().spool).toMatchObject({ replayed: 50, bytes: 0 });
    // The dead process's lock went with its files: only this logger's is left.
    expect(readdirSync(dir).filter((f) => f.endsWith('.lock'))).toHaveLength(1);
  });

  it("puts a request's document in the spool as its response ends, before the client can have it", async () => {
    const dir = folder();
    const { logger } = make(new OutageStore(), dir);
    const app = express();
    app.use(actionLog(logger));
    app.post('/orders/:id', async (req, res) => {
      logger.recordModelChange(orderChange(req.params.id, { new_object: { _id: req.params.id } }));
      await logger.record({
        action: 'invoice',
        attachments: [{ name: 'a.txt', type: 'invoice', mime_type: 'text/plain', data: Buffer.from('paid') }],
      });
      res.status(201).json({ ok: true });
    });
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Several at once: their documents share one write, and each response waits for it.
    const seen = await Promise.all(
      ['1', '2', '3', '4'].map(async (id) => {
        const response = await fetch(`${url}/orders/${id}`, { method: 'POST' });
        // As the response arrives, its document's line is in the file already, with the attachment's bytes.
        const lines = spoolLines(dir).filter((line) => line.includes(String(response.headers.get('x-request-id'))));
        return {
          status: response.status,
          spooled: lines.length === 1,
          attachmentsSpooled: lines[0]?.includes(Buffer.from('paid').toString('base64')) ?? false,
        };
      }),
    );
    server.close();
    expect(seen).toEqual(Array.from({ length: 4 }, () => ({ status: 201, spooled: true, attachmentsSpooled: true })));
  });

  it('stores attachments and sealed entries from a spool a later logger adopts: the bytes read back, the links untouched', async () => {
    const dir = folder();
    const store = new MemoryStore();
    const key = { hmac: 'spool-test-secret' };
    const away = new OutageStore();
    const first = make(away, dir, { integrity: { key } }).logger;
    const entries: ActionEntry[] = [];
    for (let i = 0; i < 3; i++) {
      entries.push(
        await first.run({ requestUuid: `a${i}` }, () =>
          first.record({
            action: 'upload',
            attachments: [{ name: `f${i}.bin`, type: 'scan', mime_type: 'application/octet-stream', data: Buffer.from([i, 0, 255]) }],
          }),
        ),
      );
    }
    expect(await first.close({ timeout: 50 })).toEqual({ left: 3 });

    const second = make(store, dir, { integrity: { key } }).logger;
    await second.flush();
    for (const [i, entry] of entries.entries()) {
      const stream = await second.attachment(entry.attachments![0]!.id);
      const chunks: Buffer[] = [];
      for await (const chunk of stream!) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks)).toEqual(Buffer.from([i, 0, 255]));
    }
    await second.close();
    // Stored as sealed, nothing tampered; the first logger's chain, closed before it stored them, is vouched for by
    // the second one's checkpoint: their lines' MACs hold under the key they share.
    const report = await expectIntact(store, key);
    expect(report.summary.entries).toBe(6);
  });

  it('does not vouch for adopted lines whose MAC is missing or does not hold', async () => {
    const dir = folder();
    const key = { hmac: 'spool-test-secret' };
    const first = make(new OutageStore(), dir, { integrity: { key } }).logger;
    await record(first, 3);
    expect(await first.close({ timeout: 50 })).toEqual({ left: 3 });
    // Rewritten as anyone able to write the folder could: each link still hashes, the checksum is right, no MAC.
    for (const file of spoolFiles(dir)) {
      const lines = readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
      const forged = lines.map((line, i) => {
        const withoutMac = line.slice(9, line.lastIndexOf(',"mac":"'));
        const json = i % 2 === 0 ? `${withoutMac}}` : `${withoutMac},"mac":"${Buffer.alloc(32).toString('base64')}"}`;
        return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
      });
      writeFileSync(join(dir, file), forged.join(''));
    }
    const store = new MemoryStore();
    const second = make(store, dir, { integrity: { key } }).logger;
    await second.flush();
    await second.close();
    expect((await storedCounts(store)).size).toBe(3);
    await expectUnconfirmed(store, key, first.integrityChain);
  });

  it('does not close the chain of a logger closed past its deadline with sealed entries left in the spool', async () => {
    const dir = folder();
    const key = { hmac: 'spool-test-secret' };
    // Up but slow: the writes outlast close's deadline, while the checkpoint at close is stored.
    const store = new OutageStore();
    store.up();
    store.delayMs = 300;
    const first = make(store, dir, { integrity: { key } }).logger;
    await record(first, 3);
    expect(await first.close({ timeout: 20 })).toEqual({ left: 3 });
    await sleep(store.delayMs);
    store.delayMs = 0;
    const second = make(store, dir, { integrity: { key } }).logger;
    await second.flush();
    await second.close();
    expect((await storedCounts(store)).size).toBe(3);
    // Stored after the first logger closed, by its write still under way (which settled their lines: the second
    // logger finds none to adopt), they follow its last checkpoint: unconfirmed, not inserted past the end of a chain
    // said to be closed.
    await expectUnconfirmed(store, key, first.integrityChain);
  });

  it('confirms the links it reads back from its own spool after an outage, and closes its chain after them', async () => {
    const dir = folder();
    const key = { hmac: 'spool-test-secret' };
    const store = new OutageStore();
    store.up();
    const { logger } = make(store, dir, { integrity: { key } });
    await record(logger, 3, 'before');
    await logger.flush();
    store.down = true;
    const writes = store.writes;
    await record(logger, 1, 'failing');
    for (const started = Date.now(); store.writes === writes && Date.now() - started < 10_000;) await sleep(5);
    // The store is known away: these go to the files only, and are read back from them (units built anew).
    await record(logger, 5, 'during');
    store.up();
    await logger.close();
    expect((await storedCounts(store)).size).toBe(9);
    await expectIntact(store, key);
  });

  it('reads on past a segment of torn lines alone, with nothing else to wake it', async () => {
    const dir = folder();
    await spoolUnstored(dir, 10);
    const [file] = spoolFiles(dir);
    // A segment of the same dead owner before it, every line of which fails its checksum.
    writeFileSync(join(dir, file!.replace(/\d{8}\.spool$/, '00000000.spool')), '00000000 {"torn":1}\n'.repeat(3));
    const store = new MemoryStore();
    // No write on the writer's own timer and no flush: only the read after the torn segment can bring the rest.
    const { logger } = make(store, dir, { flushIntervalMs: 60_000, batchSize: 10 });
    await vi.waitFor(async () => {
      expect((await storedCounts(store)).size).toBe(10);
    });
    expect(logger.stats().spool).toMatchObject({ torn: 3, replayed: 10, pending: 0 });
  });

  it('counts nothing in memory once closed past its deadline with a store that never answers', async () => {
    const { logger } = make(new GatedStore(), folder());
    await record(logger, 5);
    await vi.waitFor(() => {
      expect(logger.stats().spool?.memoryBytes).toBeGreaterThan(0);
    });
    expect(await logger.close({ timeout: 20 })).toEqual({ left: 5 });
    expect(logger.stats().spool).toMatchObject({ pending: 5, memoryBytes: 0 });
  });

  it('drops, reported, a spooled document whose store calls cannot be made, and stores the rest of its batch', async () => {
    const stored: string[] = [];
    const errors: Error[] = [];
    const idOf = (unit: DocumentUnit) => (unit.batch.requests[0] as unknown as { request_uuid: string }).request_uuid;
    const writer = new SpooledWriter<string>(
      { ...WRITER, batchSize: 4 },
      { dir: folder(), maxBytes: 1 << 20, fsync: 'group', fsyncIntervalMs: 50, fsyncEvery: 100, policy: 'block', blockTimeoutMs: 1000 },
      {
        unit: (id) => ({ batch: { ...emptyBatch(), requests: [{ request_uuid: id } as never] }, appends: [], attachments: [] }),
        steps: (units) => {
          if (units.some((u) => idOf(u) === 'bad')) throw new Error('no store call for this one');
          return [setupStep(async () => void stored.push(...units.map(idOf)))];
        },
        onError: (error) => errors.push(error),
      },
    );
    for (const id of ['a', 'b', 'bad', 'c']) writer.enqueue(id);
    // Resolves: the dropped document's line is settled with the others, so the spool's file can go.
    await writer.flush();
    expect(stored).toEqual(['a', 'b', 'c']);
    expect(writer.stats()).toMatchObject({ recorded: 4, stored: 3, dropped: 1, queued: 0, spool: { pending: 0, dropped: 1, bytes: 0 } });
    expect(errors.map((e) => e.message)).toEqual(['Could not make the store calls of a spooled document; it is dropped']);
    await writer.close();
  });

  it('names a spool given with another failure policy', () => {
    const store = new MemoryStore();
    expect(() => createActionLogger({ store, onStoreError: 'throw', spool: { dir: '/tmp/x' } })).toThrow(
      /spool: is set but onStoreError is "throw"/,
    );
    const logger = createActionLogger({ store, spool: { dir: folder() } });
    loggers.push(logger);
    expect(logger.failurePolicy).toBe('spool');
  });

  it('names a bad spool option', () => {
    const store = new MemoryStore();
    expect(() => createActionLogger({ store, spool: { dir: '' } })).toThrow(/spool\.dir/);
    expect(() => createActionLogger({ store, spool: { dir: '/tmp/x', policy: 'wait' as never } })).toThrow(/spool\.policy/);
    expect(() => createActionLogger({ store, onStoreError: 'spool' })).toThrow(ActionLogConfigError);
    expect(() => createActionLogger({ store, onStoreError: 'spool' })).toThrow(/onStoreError/);
    // A folder that cannot be made: its parent is a file.
    const file = join(folder(), 'a-file');
    writeFileSync(file, '');
    expect(() => createActionLogger({ store, spool: { dir: join(file, 'spool') } })).toThrow(/spool\.dir.*cannot be used/);
  });
});
