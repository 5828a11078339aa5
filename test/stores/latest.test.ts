import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { type ActionLogDocument, type ActionLogger, createActionLogger, MemoryStore, MongoStore, SqlStore, type Store } from 'actionlog';
import { STORE_KINDS, type StoreKind } from '../support/every-store.js';
import { latestPair, latestTime } from '../support/latest-times.js';
import { freshDatabaseName, mongoUri } from '../support/mongo-db.js';
import { createPostgresDatabase } from '../support/sql.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const writerScript = fileURLToPath(new URL('../support/latest-writer.ts', import.meta.url));
const WRITERS = 3;
const PER_WRITER = 60;

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** A database several stores (and processes) share: its address, and a store of its own on it for each caller. */
async function sharedDatabase(kind: StoreKind): Promise<{ address: string; dbName?: string; open(): Promise<Store> }> {
  if (kind === 'memory') {
    const store = new MemoryStore();
    return { address: '', open: async () => store };
  }
  if (kind === 'mongodb') {
    const dbName = freshDatabaseName();
    const open = async () => {
      const client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
      cleanups.push(() => client.close());
      return new MongoStore({ db: client.db(dbName) });
    };
    cleanups.push(async () => {
      const client = await MongoClient.connect(mongoUri());
      await client.db(dbName).dropDatabase();
      await client.close();
    });
    return { address: mongoUri(), dbName, open };
  }
  let address: string;
  if (kind === 'sqlite') {
    const folder = mkdtempSync(join(tmpdir(), 'actionlog-latest-'));
    cleanups.push(async () => {
      rmSync(folder, { recursive: true, force: true });
    });
    address = join(folder, 'trail.db');
  } else {
    const created = await createPostgresDatabase();
    cleanups.push(created.drop);
    address = created.url;
  }
  const open = async () => {
    const dataSource = new DataSource(
      kind === 'postgres' ? { type: 'postgres', url: address } : { type: 'better-sqlite3', database: address, enableWAL: true },
    );
    await dataSource.initialize();
    cleanups.unshift(async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    });
    return new SqlStore({ dataSource });
  };
  return { address, open };
}

const loggerOn = (store: Store) =>
  createActionLogger({ store, flushIntervalMs: 0, batchSize: 5, latestActions: true, onError: (e) => expect.fail(e.message) });

/** What every writer recorded is in the history, and each pair's latest is an action of its newest time there. */
async function expectNewestKept(reader: ActionLogger, total: number): Promise<void> {
  const history: ActionLogDocument[] = [];
  for (let cursor: string | undefined, first = true; first || cursor; first = false) {
    const page = await reader.query({ kind: 'actions' }, { limit: 500, ...(cursor ? { cursor } : {}) });
    history.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  }
  expect(history).toHaveLength(total);
  const pairs = new Set(history.map((a) => `${a.actor_id}|${a.action_type}`));
  expect(pairs.size).toBe(6);
  for (const pair of pairs) {
    const [actor = '', type = ''] = pair.split('|');
    const ofPair = history.filter((a) => a.actor_id === actor && a.action_type === type);
    const newest = Math.max(...ofPair.map((a) => a.emitted_at.getTime()));
    const latest = await reader.latestAction(actor, type);
    expect(latest?.emitted_at.getTime(), pair).toBe(newest);
    expect(ofPair.filter((a) => a.emitted_at.getTime() === newest).map((a) => a.note)).toContain(latest?.note);
  }
}

describe.each(STORE_KINDS)('latest actions on %s', (kind) => {
  it('several loggers on one database, racing: each pair keeps its newest action by time', async () => {
    const db = await sharedDatabase(kind);
    const loggers = await Promise.all(Array.from({ length: WRITERS }, async () => loggerOn(await db.open())));
    await Promise.all(loggers.map((logger) => logger.ready()));
    await Promise.all(
      loggers.map(async (logger, writer) => {
        for (let i = 0; i < PER_WRITER; i++) {
          const [actor, type] = latestPair(i);
          await logger.run({}, () => logger.record({ action: type, actor, emitted_at: latestTime(writer, i), note: `${writer}:${i}` }));
          if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await logger.flush();
      }),
    );
    await expectNewestKept(loggers[0]!, WRITERS * PER_WRITER);
    for (const logger of loggers) await logger.close();
  });
});

/** Starts a writer process (test/support/latest-writer.ts): resolves once it is ready, with its run to the end. */
async function writerProcess(kind: StoreKind, db: { address: string; dbName?: string }, writer: number) {
  const args = [kind, db.address, String(writer), String(PER_WRITER), ...(db.dbName ? [db.dbName] : [])];
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, ...args], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0 && stderr === '') resolve();
      else reject(new Error(`writer ${writer} exited with ${code}: ${stderr}`));
    });
  });
  await Promise.race([new Promise((resolve) => child.once('message', resolve)), done]);
  return { go: () => child.send('go'), done };
}

describe.each(STORE_KINDS.filter((kind) => kind !== 'memory'))('latest actions on %s with writer processes', (kind) => {
  it('processes racing upserts on one database: each pair keeps its newest action by time', async () => {
    const db = await sharedDatabase(kind);
    const reader = loggerOn(await db.open());
    // The tables and indexes exist before the writers start (as after a deploy), so that they race on rows only.
    await reader.ready();
    const writers = await Promise.all(Array.from({ length: WRITERS }, (_, writer) => writerProcess(kind, db, writer)));
    for (const writer of writers) writer.go();
    await Promise.all(writers.map((writer) => writer.done));
    await expectNewestKept(reader, WRITERS * PER_WRITER);
    await reader.close();
  }, 240_000);
});
