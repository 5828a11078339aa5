import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionLogPlugin } from 'actionlog/mongoose';
import { freshDatabaseName, mongoUri } from '../../support/mongo-db.js';
import { exactLogger, expectExact, storedDocuments } from '../../support/mongoose-exact.js';
import { itemSchema, type Item, seedDocuments } from '../../support/mongoose-write-calls.js';

// Mongoose before 9.7 publishes no tracing channel: insertMany is then followed through its middleware alone.
const { logger, errors, logsOf } = exactLogger();
const older = new mongoose.Mongoose();
// Typed read-only; an instance's own version is what the plugin reads.
Object.defineProperty(older, 'version', { value: '9.6.0' });
const Item = older.model<Item>('OlderItem', itemSchema().plugin(actionLogPlugin(logger)));

beforeAll(async () => {
  await older.connect(mongoUri(), { dbName: freshDatabaseName(), serverSelectionTimeoutMS: 10_000 });
  await Item.init();
});
afterAll(async () => {
  await older.connection.dropDatabase().catch(() => {});
  await older.disconnect();
  await logger.close();
});

async function exactly(fn: () => Promise<unknown>) {
  await Item.collection.deleteMany({});
  await Item.collection.insertMany(seedDocuments());
  errors.length = 0;
  const before = await storedDocuments(Item);
  const logs = await logsOf(() => fn().catch(() => null));
  return { before, logs, after: await storedDocuments(Item) };
}

describe('insertMany on a Mongoose without its tracing channel (before 9.7)', () => {
  it('records the documents inserted, also those inserted before or besides a failure', async () => {
    for (const call of [
      () => Item.insertMany([{ sku: 'd' }, { sku: 'e', n: 5 }]),
      () => Item.insertMany([{ sku: 'd' }, { sku: 'a' }, { sku: 'e' }]),
      () => Item.insertMany([{ sku: 'd' }, { sku: 'a' }, { sku: 'e' }], { ordered: false }),
      () => Item.insertMany([{ sku: 'd', n: 1 }], { lean: true }),
    ]) {
      const { before, logs, after } = await exactly(call);
      expect(logs.length).toBeGreaterThan(0);
      expectExact(before, logs, after, errors);
    }
  });

  it('records nothing of an insertMany with rawResult, after which that Mongoose runs no middleware', async () => {
    const { logs, before, after } = await exactly(() => Item.insertMany([{ sku: 'd' }], { rawResult: true }));
    expect(after.size).toBe(before.size + 1);
    expect(logs).toEqual([]);
  });
});
