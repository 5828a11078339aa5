import fc from 'fast-check';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { actionLogPlugin } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { exactLogger, replay, storedDocuments } from '../../support/mongoose-exact.js';
import { type Item, itemSchema, type ItemModel, seedDocuments, WRITE_CALLS } from '../../support/mongoose-write-calls.js';

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
    readBefore: conn.model<Item, ItemModel>('PropItemRead', itemSchema().plugin(actionLogPlugin(logger, { singleDocumentWrites: 'readBefore' }))),
  };
  await Promise.all(Object.values(models).map((M) => M.init()));
});
afterAll(async () => {
  await logger.close();
});

const sku = fc.constantFrom('a', 'b', 'c', 'd', 'e');
// -1 fails validation where Mongoose validates (`min: 0`).
const n = fc.integer({ min: -1, max: 5 });
const newDoc = fc.record({ sku: fc.option(sku, { nil: undefined }), n });
const filter = fc.oneof(
  sku.map((s) => ({ sku: s })),
  fc.integer({ min: 0, max: 6 }).map((k) => ({ n: { $gte: k } })),
  fc.constant({}),
);
const update = fc.oneof(
  n.map((v) => ({ $set: { n: v } })),
  fc.constant({ $inc: { n: 1 } }),
  sku.map((s) => ({ $set: { sku: s } })),
  fc.constant({ $push: { tags: 't' } }),
  n.map((v) => ({ $set: { 'meta.k': v } })),
  fc.constantFrom('red', 'blue').map((color) => ({ $set: { spec: { color, size: 1 } } })),
  fc.constant({ $unset: { s: 1 } }),
);
const replacement = fc.record({ sku: fc.option(sku, { nil: undefined }), n: fc.nat({ max: 5 }) });
const bulkOp = fc.oneof(
  newDoc.map((document) => ({ insertOne: { document } })),
  fc.record({ filter, update, upsert: fc.boolean() }).map((updateOne) => ({ updateOne })),
  fc.record({ filter, update }).map((updateMany) => ({ updateMany })),
  fc.record({ filter, replacement }).map((replaceOne) => ({ replaceOne })),
  filter.map((f) => ({ deleteOne: { filter: f } })),
  filter.map((f) => ({ deleteMany: { filter: f } })),
);
const findOptions = fc.record({
  returnDocument: fc.constantFrom('before', 'after'),
  projection: fc.constantFrom(undefined, { n: 1 }, { s: 0 }, { 'spec.color': 1 }),
  includeResultMetadata: fc.boolean(),
  lean: fc.boolean(),
  upsert: fc.boolean(),
  sort: fc.constantFrom(undefined, { n: -1 }),
});

/** One call, as data (a failing sequence prints as something to read). */
const step = fc.oneof(
  fc.record({ kind: fc.constant('row' as const), row: fc.integer({ min: 0, max: WRITE_CALLS.length - 1 }) }),
  fc.record({ kind: fc.constant('create' as const), docs: fc.array(newDoc, { minLength: 1, maxLength: 3 }), ordered: fc.boolean() }),
  fc.record({
    kind: fc.constant('insertMany' as const),
    docs: fc.array(newDoc, { minLength: 1, maxLength: 4 }),
    options: fc.record({ ordered: fc.boolean(), rawResult: fc.boolean(), lean: fc.boolean() }),
  }),
  fc.record({
    kind: fc.constant('save' as const),
    sku,
    change: fc.constantFrom('n', 'sku', 'tags', 'meta in place', 'spec', 'when in place'),
    n,
    to: sku,
  }),
  fc.record({
    kind: fc.constantFrom('updateOne' as const, 'updateMany' as const),
    filter,
    update,
    options: fc.record({ upsert: fc.boolean(), runValidators: fc.boolean() }),
  }),
  fc.record({ kind: fc.constant('replaceOne' as const), filter, replacement, upsert: fc.boolean() }),
  fc.record({ kind: fc.constantFrom('deleteOne' as const, 'deleteMany' as const), filter }),
  fc.record({ kind: fc.constant('findOneAndUpdate' as const), filter, update, options: findOptions }),
  fc.record({ kind: fc.constant('findOneAndReplace' as const), filter, replacement, options: findOptions }),
  fc.record({ kind: fc.constant('findOneAndDelete' as const), filter, options: findOptions }),
  fc.record({ kind: fc.constant('bulkWrite' as const), ops: fc.array(bulkOp, { minLength: 1, maxLength: 5 }), ordered: fc.boolean() }),
  fc.record({
    kind: fc.constant('bulkSave' as const),
    changed: fc.array(fc.record({ sku, n }), { maxLength: 2 }),
    added: fc.array(newDoc, { maxLength: 2 }),
    ordered: fc.boolean(),
  }),
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

async function perform(M: ItemModel, s: Step): Promise<unknown> {
  switch (s.kind) {
    case 'row':
      return WRITE_CALLS[s.row]?.setup ? undefined : WRITE_CALLS[s.row]?.run(M);
    case 'create':
      return M.create(s.docs, { ordered: s.ordered });
    case 'insertMany':
      return M.insertMany(s.docs, s.options);
    case 'save': {
      const doc = await M.findOne({ sku: s.sku }).orFail();
      if (s.change === 'n') doc.n = s.n;
      if (s.change === 'sku') doc.sku = s.to;
      if (s.change === 'tags') doc.tags.push('s');
      if (s.change === 'spec') doc.spec = { color: s.to, size: s.n };
      if (s.change === 'meta in place') {
        doc.meta = doc.meta ?? {};
        (doc.meta as { k?: number }).k = s.n;
        doc.markModified('meta');
      }
      if (s.change === 'when in place') {
        doc.when ??= new Date(0);
        doc.when.setUTCFullYear(2000 + s.n);
        doc.markModified('when');
      }
      return doc.save();
    }
    case 'updateOne':
    case 'updateMany':
      return M[s.kind](s.filter, s.update, s.options);
    case 'replaceOne':
      return M.replaceOne(s.filter, s.replacement, { upsert: s.upsert });
    case 'deleteOne':
    case 'deleteMany':
      return M[s.kind](s.filter);
    case 'findOneAndUpdate':
      return M.findOneAndUpdate(s.filter, s.update, s.options);
    case 'findOneAndReplace':
      return M.findOneAndReplace(s.filter, s.replacement, s.options);
    case 'findOneAndDelete': {
      const { returnDocument: _r, upsert: _u, ...options } = s.options;
      return M.findOneAndDelete(s.filter, options);
    }
    case 'bulkWrite':
      return M.bulkWrite(s.ops as never, { ordered: s.ordered });
    case 'bulkSave': {
      const loaded = await M.find({ sku: { $in: s.changed.map((c) => c.sku) } });
      for (const doc of loaded) doc.n = s.changed.find((c) => c.sku === doc.sku)?.n ?? 0;
      return M.bulkSave([...s.added.map((d) => new M(d)), ...loaded], { ordered: s.ordered });
    }
  }
}

it(`replays the model logs of ${RUNS} random sequences of write calls into exactly the stored documents`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('findAndModify' as const, 'readBefore' as const),
      fc.array(step, { minLength: 1, maxLength: 5 }),
      async (mode, steps) => {
        const M = models[mode];
        await M.collection.deleteMany({});
        await M.collection.insertMany(seedDocuments());
        errors.length = 0;
        let state = await storedDocuments(M);
        for (const [i, s] of steps.entries()) {
          // A copy: the driver gives lean inserts an `_id`, and fast-check runs a value again when it shrinks.
          const logs = await logsOf(() => perform(M, structuredClone(s)).catch(() => null));
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
