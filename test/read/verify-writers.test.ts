import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { afterEach, describe, expect, it } from 'vitest';
import { createActionLogger, MongoStore, SqlStore, type Store } from 'actionlog';
import { freshDatabaseName, mongoUri } from '../support/mongo-db.js';
import { createPostgresDatabase } from '../support/sql.js';
import { ed25519, entriesOf } from '../support/trail.js';

const WRITERS = 4;
const RUNS = 30;
const script = fileURLToPath(new URL('../support/sealing-writer.ts', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A database every process can reach: the writers' arguments, and a store on it for this process. */
async function shared(kind: 'postgres' | 'sqlite' | 'mongodb'): Promise<{ args: string[]; store: Store }> {
  if (kind === 'mongodb') {
    const dbName = freshDatabaseName();
    const client = await MongoClient.connect(mongoUri());
    const db = client.db(dbName);
    cleanups.push(async () => {
      await db.dropDatabase().catch(() => {});
      await client.close();
    });
    return { args: ['mongodb', mongoUri(), dbName], store: new MongoStore({ db }) };
  }
  let options: ConstructorParameters<typeof DataSource>[0];
  let target: string;
  if (kind === 'postgres') {
    const created = await createPostgresDatabase();
    cleanups.push(created.drop);
    target = created.url;
    options = { type: 'postgres', url: target };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'actionlog-verify-'));
    cleanups.push(async () => {
      rmSync(dir, { recursive: true, force: true });
    });
    target = join(dir, 'trail.db');
    options = { type: 'better-sqlite3', database: target, enableWAL: true };
  }
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  cleanups.push(() => dataSource.destroy());
  return { args: [kind, target], store: new SqlStore({ dataSource }) };
}

/** Runs the writers at once, each in its own process with its own chain; resolves when all exited cleanly. */
async function runWriters(args: string[], pem: string): Promise<void> {
  const children = Array.from({ length: WRITERS }, () =>
    fork(script, [...args, String(RUNS)], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ACTIONLOG_TEST_KEY: pem },
      stdio: 'pipe',
    }),
  );
  const errors: string[] = [];
  for (const child of children) child.stderr?.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));
  for (const child of children) child.send('go');
  const codes = await Promise.all(children.map((child) => new Promise<number | null>((resolve) => child.once('exit', resolve))));
  expect(errors.join('')).toBe('');
  expect(codes).toEqual(Array(WRITERS).fill(0));
}

describe.each(['postgres', 'sqlite', 'mongodb'] as const)('a trail written by four processes at once on %s', (kind) => {
  it('verifies intact, before and after a purge of its older half', async () => {
    const { args, store } = await shared(kind);
    const keys = ed25519();
    const pem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // Tables and indexes first, so that the writers do not all create them at once.
    await store.init?.({ actionLogs: true, modelLogs: true, retention: false, warn: () => {} });
    await runWriters(args, pem);

    const logger = createActionLogger({ store, integrity: { key: keys.privateKey } });
    const clean = await logger.verify({ keys: [keys.publicKey] });
    expect(clean.findings).toEqual([]);
    expect(clean.status).toBe('intact');
    expect(clean.summary.chains).toBe(WRITERS);
    // Per run: a request, its action and model log mirrors and an activity; a late action (with its mirror) every
    // third, appended to its stored request document: a link of its own.
    const late = WRITERS * Math.ceil(RUNS / 3);
    expect(clean.summary.entries).toBe(WRITERS * RUNS * 4 + late);
    expect(clean.summary.links).toBe(clean.summary.entries + late);

    const times = (await entriesOf(store, 'requests')).map((r) => r.position.time.getTime()).sort((a, b) => a - b);
    const purged = await logger.purge({ before: new Date(times[Math.floor(times.length / 2)]!) });
    expect(purged.requests).toBeGreaterThan(0);
    const after = await logger.verify({ keys: [keys.publicKey] });
    expect(after.findings.filter((f) => f.problem !== 'pruned')).toEqual([]);
    expect(after.status).toBe('intact');
    // Every deleted entry is accounted for as pruned (with the late appends inside deleted request documents).
    const deleted = purged.requests + purged.actions + purged.changes + purged.activities;
    expect(after.summary.counts.pruned).toBe(clean.summary.links - after.summary.links);
    expect(after.summary.counts.pruned).toBeGreaterThanOrEqual(deleted);
    await logger.close();
    // Four tsx processes and their writes: about 25 s per store on a loaded machine.
  }, 240_000);
});
