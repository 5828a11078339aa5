import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createActionLogger, MongoStore } from 'actionlog';
import { freshDatabaseName, mongoUri } from '../../support/mongo-db.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const PER_WRITER = 120;

let client: MongoClient;
const dbName = freshDatabaseName();
beforeAll(async () => {
  client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  await client.db(dbName).dropDatabase();
  await client.close();
});

/** Another process that records `PER_WRITER` actions named `<name>_<i>` (see tail-writer.ts). */
function writer(name: string): Promise<unknown> {
  const script = fileURLToPath(new URL('tail-writer.ts', import.meta.url));
  return promisify(execFile)(`${root}node_modules/.bin/tsx`, [script, mongoUri(), dbName, name, String(PER_WRITER)], { cwd: root });
}

it('tails what two other processes write: every entry once, in the store order, none missed', async () => {
  const store = new MongoStore({ client, dbName, tailSettleMs: 300 });
  const errors: unknown[] = [];
  const logger = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => errors.push(error) });
  await logger.run({}, () => {
    logger.record({ action: 'before' });
  });
  await logger.flush();
  const abort = new AbortController();
  const seen: string[] = [];
  const following = (async () => {
    for await (const { entry } of logger.tail({ kind: 'actions' }, { signal: abort.signal, pollMs: 100 })) {
      seen.push(entry.action_type);
      if (seen.length === 2 * PER_WRITER) break;
    }
  })();
  const timeout = setTimeout(() => {
    abort.abort();
  }, 60_000);
  try {
    const writers = Promise.all([writer('a'), writer('b')]);
    const gate = client.db(dbName).collection<{ _id: string }>('gate');
    await vi.waitFor(
      async () => {
        expect(await gate.countDocuments()).toBe(2);
      },
      { timeout: 30_000, interval: 50 },
    );
    await gate.insertOne({ _id: 'go' });
    await writers;
    await following;
  } finally {
    clearTimeout(timeout);
    abort.abort();
  }
  expect(new Set(seen).size).toBe(2 * PER_WRITER);
  for (const name of ['a', 'b']) {
    expect(seen.filter((type) => type.startsWith(`${name}_`))).toEqual(Array.from({ length: PER_WRITER }, (_, i) => `${name}_${i}`));
  }
  // The order delivered is the store's: stored order read afterwards, past the entry before the tail began.
  const stored = await store.query({ kind: 'actions', filter: {}, by: 'stored', order: 'asc', limit: 1000 });
  expect(stored.map((s) => s.entry.action_type)).toEqual(['before', ...seen]);
  // Both wrote while the other did: the tail saw their entries interleaved, not one process after the other.
  const switches = seen.filter((type, i) => i > 0 && type[0] !== seen[i - 1]?.[0]).length;
  expect(switches).toBeGreaterThan(2);
  await logger.close();
  expect(errors).toEqual([]);
}, 120_000);
