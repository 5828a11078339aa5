import fc from 'fast-check';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { actionLogPlugin } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { exactLogger, replay, storedDocuments } from '../../support/mongoose-exact.js';
import { type Item, itemSchema, type ItemModel, performStep, seedDocuments, writeStep } from '../../support/mongoose-write-calls.js';

// Random sequences of write calls, drawn from the README's table and from the same calls with random arguments,
// failing ones included (duplicate keys, validation errors, unordered bulks with a failing operation). After each
// call, the model logs recorded so far, replayed from the first state, must give exactly what the database holds:
// nothing missing, nothing twice, every old object the state it replaced.
const SEED = Number(process.env.PROPERTY_SEED ?? 20_260_519);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

const { logger, errors, logsOf } = exactLogger();
const connect = useMongooseConnection();
let conn: Connection;
let models: Record<'findAndModify' | 'readBefore', ItemModel>;

beforeAll(async () => {
  conn = await connect();
  models = {
    findAndModify: conn.model<Item, ItemModel>('PropItemFam', itemSchema().plugin(actionLogPlugin(logger))),
    readBefore: conn.model<Item, ItemModel>(
      'PropItemRead',
      itemSchema().plugin(actionLogPlugin(logger, { singleDocumentWrites: 'readBefore' })),
    ),
  };
  await Promise.all(Object.values(models).map((M) => M.init()));
});
afterAll(async () => {
  await logger.close();
});

it(`replays the model logs of ${RUNS} random sequences of write calls into exactly the stored documents`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('findAndModify' as const, 'readBefore' as const),
      fc.array(writeStep, { minLength: 1, maxLength: 5 }),
      async (mode, steps) => {
        const M = models[mode];
        await M.collection.deleteMany({});
        await M.collection.insertMany(seedDocuments());
        errors.length = 0;
        let state = await storedDocuments(M);
        for (const [i, s] of steps.entries()) {
          // A copy: the driver gives lean inserts an `_id`, and fast-check runs a value again when it shrinks.
          const logs = await logsOf(() => performStep(M, structuredClone(s)).catch(() => null));
          const replayed = replay(state, logs);
          const stored = await storedDocuments(M);
          expect(replayed.problems, `after step ${i}`).toEqual([]);
          expect(Object.fromEntries(replayed.state), `after step ${i}`).toEqual(Object.fromEntries(stored));
          expect(errors, `after step ${i}`).toEqual([]);
          state = replayed.state;
        }
      },
    ),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
}, 600_000);
