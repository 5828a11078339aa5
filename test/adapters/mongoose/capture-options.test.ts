import { type Connection, Schema, Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { actionLogPlugin } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { exactLogger, expectExact, storedDocuments } from '../../support/mongoose-exact.js';

// Options of the application's schemas and of its update values: each test compares what was recorded with what the
// database held before and after (read with the native driver), as capture-exactness.test.ts does.
const { logger, errors, logsOf } = exactLogger();
const connect = useMongooseConnection();
let conn: Connection;

const paths = () => ({
  sku: { type: String, unique: true, sparse: true },
  n: { type: Number, alias: 'count' },
  s: String,
  tags: [String],
  meta: Schema.Types.Mixed,
  spec: new Schema({ color: String, size: Number }, { _id: false }),
  items: [new Schema({ name: String, qty: Number })],
});
// `translateAliases` (a documented Mongoose option): queries may name `count` for `n`.
const plain = new Schema(paths(), { translateAliases: true } as Record<string, unknown>).plugin(actionLogPlugin(logger));
// A schema-level toObject option of the application's own.
const fieldsOnly = new Schema(paths(), { toObject: { schemaFieldsOnly: true } }).plugin(actionLogPlugin(logger));
// A top-level schema without `_id`: the driver gives the inserted documents one.
const noId = new Schema({ s: String }, { _id: false }).plugin(actionLogPlugin(logger));

const compile = (c: Connection) => ({
  Item: c.model('HuntItem', plain),
  FieldsOnly: c.model('HuntFieldsOnly', fieldsOnly),
  NoId: c.model('HuntNoId', noId),
});
let Item: ReturnType<typeof compile>['Item'];
let FieldsOnly: ReturnType<typeof compile>['FieldsOnly'];
let NoId: ReturnType<typeof compile>['NoId'];

const a = new Types.ObjectId();
const b = new Types.ObjectId();
const c = new Types.ObjectId();

beforeAll(async () => {
  conn = await connect();
  ({ Item, FieldsOnly, NoId } = compile(conn));
  await Promise.all([Item.init(), FieldsOnly.init(), NoId.init()]);
});
afterAll(async () => {
  await logger.close();
});
beforeEach(async () => {
  errors.length = 0;
  await NoId.collection.deleteMany({});
  for (const M of [Item, FieldsOnly]) {
    await M.collection.deleteMany({});
    await M.collection.insertMany([
      {
        _id: a,
        sku: 'a',
        n: 1,
        s: 'one',
        tags: ['x'],
        meta: { k: 1 },
        spec: { color: 'blue', size: 1 },
        items: [{ _id: new Types.ObjectId(), name: 'i', qty: 1 }],
        __v: 0,
      },
      { _id: b, sku: 'b', n: 2, s: 'two', tags: [], meta: { k: 2 }, spec: { color: 'green', size: 2 }, items: [], __v: 0 },
      { _id: c, sku: 'c', n: 0, s: 'three', tags: ['y'], meta: { k: 3 }, spec: { color: 'red', size: 3 }, items: [], __v: 0 },
    ]);
  }
});

type AnyModel = typeof Item | typeof FieldsOnly | typeof NoId;

/** Runs `fn` as one request; checks its logs against the database before and after; returns them. */
async function exactly(M: AnyModel, fn: () => Promise<unknown>) {
  const before = await storedDocuments(M);
  const logs = await logsOf(async () => {
    await fn();
  });
  const after = await storedDocuments(M);
  expectExact(before, logs, after, errors);
  return logs;
}

describe('capture exactness under schema options and update values', () => {
  it('updateMany() with translateAliases and an alias in the filter records the documents it changed', async () => {
    await exactly(Item, async () => {
      const res = await Item.updateMany({ count: { $gte: 1 } }, { $set: { s: 'aliased' } });
      expect(res.modifiedCount).toBe(2);
    });
  });

  it('deleteMany() with translateAliases and an alias in the filter records the document it deleted', async () => {
    await exactly(Item, async () => {
      const res = await Item.deleteMany({ count: 2 });
      expect(res.deletedCount).toBe(1);
    });
  });

  it('updateMany() setting a Mixed value holding undefined records the null the driver stored', async () => {
    await exactly(Item, () => Item.updateMany({ _id: a }, { $set: { meta: { x: undefined, y: 1 } } }));
  });

  it('updateOne() (sent as findAndModify) setting a Mixed value holding undefined: the same', async () => {
    await exactly(Item, () => Item.updateOne({ _id: a }, { $set: { meta: { x: undefined, y: 1 } } }));
  });

  it('save() with the schema option toObject: { schemaFieldsOnly: true } records the stored fields outside the schema', async () => {
    await FieldsOnly.collection.updateOne({ _id: a }, { $set: { legacy: 'kept' } });
    await exactly(FieldsOnly, async () => {
      const doc = (await FieldsOnly.findById(a))!;
      doc.s = 'changed';
      await doc.save();
    });
  });

  it('updateMany() with $mul by a negative number on a missing field records the 0 MongoDB stores', async () => {
    await exactly(Item, () => Item.updateMany({ _id: b }, { $mul: { 'meta.z': -2 } }));
  });
});
