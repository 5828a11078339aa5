import fc from 'fast-check';
import type { Connection } from 'mongoose';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, MongoStore } from 'actionlog';
import { actionLogPlugin } from 'actionlog/mongoose';
import { ActionLogSubscriber } from 'actionlog/typeorm';
import { canonical, readState } from '../adapters/typeorm/database-state.js';
import { call, runCall, seed } from '../adapters/typeorm/write-calls.js';
import { asLogged, storedDocuments } from '../support/mongoose-exact.js';
import { useMongooseConnection } from '../support/mongo-db.js';
import { type Item, itemSchema, type ItemModel, performStep, seedDocuments, writeStep } from '../support/mongoose-write-calls.js';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../support/sql.js';
import { Basket, BasketItem, BasketNote, TEST_ENTITIES } from '../support/typeorm-entities.js';

/*
 * stateAt against the database itself: a random sequence of 200 write calls through an adapter, the records read
 * from the database (no Mongoose, no entities) after each call, then at 20 random moments of the sequence every
 * record's stateAt must be exactly what the database held then: null before its creation and after its
 * deletion, and proved (complete) wherever the trail has its creation.
 */
const SEED = Number(process.env.PROPERTY_SEED ?? 20_261_129);
const CALLS = 200;
const MOMENTS = 20;

type Snapshot = Map<string, unknown>;

/** Resolves once the clock has moved past now: changes before and after a moment never share its millisecond. */
async function nextMillisecond(): Promise<Date> {
  const now = Date.now();
  while (Date.now() <= now) await new Promise((resolve) => setTimeout(resolve, 1));
  return new Date();
}

/**
 * Runs the calls, each in a scope of its own, and returns the moments between them with what the database
 * held at each: moment 0 is before the first call.
 */
async function timeline(logger: ActionLogger, calls: Array<() => Promise<unknown>>, read: () => Promise<Snapshot>) {
  const moments: Array<{ at: Date; held: Snapshot }> = [{ at: await nextMillisecond(), held: await read() }];
  await nextMillisecond();
  for (const run of calls) {
    await logger.run({}, () => run().catch(() => null));
    const at = await nextMillisecond();
    moments.push({ at, held: await read() });
    await nextMillisecond();
  }
  await logger.flush();
  return moments;
}

/** Every record's stateAt at the chosen moments, beside what the database held. */
async function compare(
  logger: ActionLogger,
  moments: Array<{ at: Date; held: Snapshot }>,
  chosen: number[],
  record: (key: string) => { model: string; id: string },
  shape: (state: unknown) => unknown,
) {
  const keys = new Set(moments.flatMap((m) => [...m.held.keys()]));
  const seenBy = (i: number, key: string) => moments.slice(0, i + 1).some((m) => m.held.has(key));
  const found: unknown[] = [];
  const held: unknown[] = [];
  for (const i of [0, ...chosen]) {
    const { at } = moments[i]!;
    for (const key of keys) {
      const { model, id } = record(key);
      const result = await logger.stateAt(model, id, at);
      // Once the trail holds a record's creation its state is proved; before it, only the creation that follows
      // shows its absence, and either verdict is true.
      const seen = seenBy(i, key);
      found.push({
        moment: i,
        key,
        state: result.state === null ? null : shape(result.state),
        proved: seen ? result.complete || result.why : null,
      });
      held.push({ moment: i, key, state: moments[i]!.held.get(key) ?? null, proved: seen ? true : null });
    }
  }
  expect(found).toEqual(held);
}

const moments = fc.uniqueArray(fc.integer({ min: 1, max: CALLS }), { minLength: MOMENTS, maxLength: MOMENTS });

// The trail in memory, and in the application's own MongoDB (the store a Mongoose application uses).
describe.each(['memory', 'mongodb'] as const)('stateAt through the Mongoose plugin, %s store', (kind) => {
  const connect = useMongooseConnection();
  let conn: Connection;
  let logger: ActionLogger;
  let M: ItemModel;

  beforeAll(async () => {
    conn = await connect();
    const store = kind === 'memory' ? new MemoryStore() : new MongoStore({ connection: conn });
    logger = createActionLogger({ store, flushIntervalMs: 0 });
    M = conn.model<Item, ItemModel>('StateAtItem', itemSchema().plugin(actionLogPlugin(logger)));
    await M.init();
  });
  afterAll(async () => {
    await logger.close();
  });

  it(`is the stored document at ${MOMENTS} moments of ${CALLS} random write calls`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(writeStep, { minLength: CALLS - 1, maxLength: CALLS - 1 }), moments, async (steps, chosen) => {
        await M.collection.deleteMany({});
        const calls = [() => M.insertMany(seedDocuments()), ...steps.map((s) => () => performStep(M, structuredClone(s)))];
        const line = await timeline(logger, calls, () => storedDocuments(M));
        await compare(logger, line, chosen, (id) => ({ model: M.collection.collectionName, id }), asLogged);
      }),
      { seed: SEED, numRuns: 2, endOnFailure: true },
    );
  }, 600_000);
});

describe.each(SQL_KINDS)('stateAt through the TypeORM subscriber on %s', (kind) => {
  const TABLES = [Basket, BasketItem, BasketNote];
  let db: SqlDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: TEST_ENTITIES });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await db.drop();
  });

  it(`is the stored row at ${MOMENTS} moments of ${CALLS} random write calls`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: CALLS - 1, maxLength: CALLS - 1 }), moments, async (steps, chosen) => {
        ds.subscribers.splice(0, ds.subscribers.length);
        for (const entity of [BasketNote, BasketItem, Basket]) await ds.getRepository(entity).createQueryBuilder().delete().execute();
        const store = new MemoryStore();
        const logger = createActionLogger({ store, flushIntervalMs: 0 });
        ds.subscribers.push(new ActionLogSubscriber(logger));
        try {
          const calls = [() => seed(ds.manager), ...steps.map((c) => () => runCall(ds.manager, c))];
          const line = await timeline(logger, calls, () => readState(ds, TABLES));
          // Keys are `Class:id`; the trail names a record by its table and id.
          const record = (key: string) => {
            const [name, id] = key.split(':') as [string, string];
            return { model: ds.getMetadata(name).tableName, id };
          };
          await compare(logger, line, chosen, record, canonical);
        } finally {
          await logger.close();
        }
      }),
      { seed: SEED, numRuns: 2, endOnFailure: true },
    );
  }, 600_000);
});
