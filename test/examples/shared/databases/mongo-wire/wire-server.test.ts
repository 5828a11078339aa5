import { type Db, type IndexDescriptionInfo, type MongoBulkWriteError, MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongoKind, planStages, useMongoDatabase, serverError } from '../../../../support/mongo-db.js';

/**
 * What the test suites rely on MongoDB to do, written against the driver: these run on whichever MongoDB the
 * run uses (the in-repo test server here, a real one with MONGODB_URI), so the two cannot drift apart unseen.
 */
const connect = useMongoDatabase();
let client: MongoClient;
let db: Db;
beforeAll(async () => ({ client, db } = await connect()));

describe('MongoDB as the tests use it', () => {
  it('answers the handshake as a writable replica set primary', async () => {
    const hello = await db.admin().command({ hello: 1 });
    expect(hello.isWritablePrimary).toBe(true);
    expect(typeof hello.setName).toBe('string');
    expect(hello.maxWireVersion).toBeGreaterThanOrEqual(17);
    expect((await db.admin().command({ buildInfo: 1 })).version).toMatch(/^\d+\.\d+/);
    expect((await db.admin().command({ ping: 1 })).ok).toBe(1);
  });

  it('refuses an unknown command with CommandNotFound', async () => {
    const error = await serverError(db.command({ noSuchCommandHere: 1 }));
    expect(error.code).toBe(59);
    expect(error.codeName).toBe('CommandNotFound');
  });

  it('stores _id first and returns cursors in batches through getMore', async () => {
    const c = db.collection<{ _id: string; i: number }>('cursor');
    await c.insertMany(Array.from({ length: 230 }, (_, i) => ({ i, _id: `k${String(i).padStart(3, '0')}` })));
    expect(Object.keys((await c.findOne({ i: 3 }))!)).toEqual(['_id', 'i']);
    const all = await c.find({}, { batchSize: 40 }).sort({ i: 1 }).toArray();
    expect(all.map((d) => d.i)).toEqual(Array.from({ length: 230 }, (_, i) => i));
    const cursor = c.find({}).batchSize(10);
    expect((await cursor.next())!.i).toBe(0);
    await cursor.close();
    expect(
      await c
        .find({ i: { $gte: 100, $lt: 200 } })
        .sort({ i: -1 })
        .skip(5)
        .limit(3)
        .project({ _id: 0 })
        .toArray(),
    ).toEqual([{ i: 194 }, { i: 193 }, { i: 192 }]);
  });

  it('applies update operators, positional and filtered updates, and counts matched and modified', async () => {
    const c = db.collection<{ name: string; n: number; tags: string[]; items: Array<{ sku: string; q: number }> }>('updates');
    const { insertedId } = await c.insertOne({
      name: 'a',
      n: 1,
      tags: ['x'],
      items: [
        { sku: 's1', q: 1 },
        { sku: 's2', q: 5 },
      ],
    });
    const r = await c.updateOne(
      { _id: insertedId },
      { $set: { name: 'b' }, $inc: { n: 2 }, $push: { tags: 'y' }, $unset: { missing: '' } },
    );
    expect([r.matchedCount, r.modifiedCount]).toEqual([1, 1]);
    const same = await c.updateOne({ _id: insertedId }, { $set: { name: 'b' } });
    expect([same.matchedCount, same.modifiedCount]).toEqual([1, 0]);
    await c.updateOne({ _id: insertedId, 'items.sku': 's2' }, { $set: { 'items.$.q': 9 } });
    await c.updateOne({ _id: insertedId }, { $inc: { 'items.$[it].q': 100 } }, { arrayFilters: [{ 'it.q': { $lt: 5 } }] });
    expect(await c.findOne({ _id: insertedId }, { projection: { _id: 0 } })).toEqual({
      name: 'b',
      n: 3,
      tags: ['x', 'y'],
      items: [
        { sku: 's1', q: 101 },
        { sku: 's2', q: 9 },
      ],
    });
  });

  it('upserts from the query equalities, with $setOnInsert only on insert', async () => {
    const c = db.collection('upserts');
    const first = await c.updateOne(
      { code: 'A', $and: [{ region: 'eu' }] },
      { $set: { n: 1 }, $setOnInsert: { created: true } },
      { upsert: true },
    );
    expect(first.upsertedId).toBeInstanceOf(ObjectId);
    const second = await c.updateOne({ code: 'A' }, { $set: { n: 2 }, $setOnInsert: { created: 'again' } }, { upsert: true });
    expect([second.matchedCount, second.upsertedCount]).toEqual([1, 0]);
    expect(await c.findOne({ code: 'A' }, { projection: { _id: 0 } })).toEqual({ code: 'A', region: 'eu', n: 2, created: true });
    const multi = await c.updateMany({ code: { $in: ['A', 'B'] } }, { $inc: { n: 1 } });
    expect(multi.matchedCount).toBe(1);
  });

  it('replaces whole documents and refuses to change _id', async () => {
    const c = db.collection('replace');
    const { insertedId } = await c.insertOne({ a: 1, b: 2 });
    await c.replaceOne({ _id: insertedId }, { c: 3 });
    expect(await c.findOne({ _id: insertedId })).toEqual({ _id: insertedId, c: 3 });
    const error = await serverError(c.updateOne({ _id: insertedId }, { $set: { _id: new ObjectId() } }));
    expect(error.code).toBe(66);
  });

  it('finds and modifies one document: before or after, sorted, upserted, projected, removed', async () => {
    const c = db.collection('fam');
    await c.insertMany([
      { k: 1, v: 'a' },
      { k: 2, v: 'b' },
    ]);
    const before = await c.findOneAndUpdate(
      {},
      { $set: { v: 'z' } },
      { sort: { k: -1 }, returnDocument: 'before', projection: { _id: 0 } },
    );
    expect(before).toEqual({ k: 2, v: 'b' });
    const after = await c.findOneAndUpdate(
      { k: 3 },
      { $set: { v: 'new' } },
      { upsert: true, returnDocument: 'after', projection: { _id: 0 } },
    );
    expect(after).toEqual({ k: 3, v: 'new' });
    const replaced = await c.findOneAndReplace({ k: 1 }, { k: 1, v: 'r' }, { returnDocument: 'after', projection: { _id: 0 } });
    expect(replaced).toEqual({ k: 1, v: 'r' });
    const removed = await c.findOneAndDelete({ k: 2 }, { projection: { _id: 0 } });
    expect(removed).toEqual({ k: 2, v: 'z' });
    expect(await c.findOneAndUpdate({ k: 99 }, { $set: { v: 1 } })).toBeNull();
    expect(await c.countDocuments()).toBe(2);
  });

  it('deletes one or many, counts, lists distinct values and aggregates with $lookup', async () => {
    const orders = db.collection('orders');
    const customers = db.collection('customers');
    await customers.insertMany([
      { _id: 'c1' as never, name: 'Ada' },
      { _id: 'c2' as never, name: 'Bo' },
    ]);
    await orders.insertMany([
      { c: 'c1', t: 5 },
      { c: 'c1', t: 7 },
      { c: 'c2', t: 1 },
      { c: 'c3', t: 0 },
    ]);
    expect((await orders.deleteOne({ c: 'c3' })).deletedCount).toBe(1);
    expect(await orders.estimatedDocumentCount()).toBe(3);
    expect((await orders.distinct('c')).sort()).toEqual(['c1', 'c2']);
    const totals = await orders
      .aggregate([
        { $group: { _id: '$c', total: { $sum: '$t' } } },
        { $lookup: { from: 'customers', localField: '_id', foreignField: '_id', as: 'customer' } },
        { $project: { _id: 0, name: { $first: '$customer.name' }, total: 1 } },
        { $sort: { total: -1 } },
      ])
      .toArray();
    expect(totals).toEqual([
      { total: 12, name: 'Ada' },
      { total: 1, name: 'Bo' },
    ]);
    expect((await orders.deleteMany({ c: 'c1' })).deletedCount).toBe(2);
  });

  it('creates, lists and drops collections and databases', async () => {
    await db.createCollection('made');
    const exists = await serverError(db.createCollection('made'));
    expect(exists.code).toBe(48);
    expect((await db.listCollections({ name: 'made' }).toArray()).map((c) => c.name)).toEqual(['made']);
    await db.collection('made').drop();
    expect(await db.listCollections({ name: 'made' }).toArray()).toEqual([]);
    const other = client.db(`${db.databaseName}_x`);
    await other.collection('y').insertOne({ a: 1 });
    await other.dropDatabase();
    expect(await other.collection('y').countDocuments()).toBe(0);
  });

  it('enforces unique indexes with E11000 errors shaped as MongoDB shapes them', async () => {
    const c = db.collection('uniq');
    expect(await c.createIndex({ email: 1 }, { unique: true, name: 'email_unique' }, undefined)).toBe('email_unique');
    expect(await c.createIndex({ email: 1 }, { unique: true, name: 'email_unique' }, undefined)).toBe('email_unique');
    await c.insertOne({ email: 'a@x' });
    const error = await serverError(c.insertOne({ email: 'a@x' }));
    expect(error.code).toBe(11000);
    expect(error.message).toMatch(/^E11000 duplicate key error collection: \S+\.uniq index: email_unique dup key: \{ email: "a@x" \}$/);
    expect(error.keyPattern).toEqual({ email: 1 });
    expect(error.keyValue).toEqual({ email: 'a@x' });
    const bulk = await serverError(c.insertMany([{ email: 'b@x' }, { email: 'a@x' }, { email: 'c@x' }], { ordered: false }));
    expect((bulk as unknown as { writeErrors: Array<{ index: number; code: number }> }).writeErrors.map((e) => [e.index, e.code])).toEqual([
      [1, 11000],
    ]);
    expect(await c.countDocuments()).toBe(3);
    const upd = await serverError(c.updateOne({ email: 'b@x' }, { $set: { email: 'c@x' } }));
    expect(upd.code).toBe(11000);
    const conflict = await serverError(c.createIndex({ email: 1 }, { name: 'email_unique' }, undefined));
    expect([85, 86]).toContain(conflict.code);
    expect(((await c.listIndexes().toArray()) as IndexDescriptionInfo[]).map((i) => [i.name, i.key, i.unique ?? false])).toEqual([
      ['_id_', { _id: 1 }, false],
      ['email_unique', { email: 1 }, true],
    ]);
    await c.dropIndex('email_unique');
    await c.insertOne({ email: 'a@x' });
  });

  it('refuses a second index with the same key under another name', async () => {
    const c = db.collection('samekey');
    await c.createIndexes([{ key: { a: 1 }, name: 'a_first' }]);
    const error = await serverError(c.createIndexes([{ key: { a: 1 }, name: 'a_second' }]));
    expect(error.code).toBe(85);
    expect(error.message).toMatch(/a_first/);
  });

  it('keeps one text index per collection, listed with its fields as weights', async () => {
    const c = db.collection('texts');
    const spec = { note: 'text', 'target.name': 'text', 'actor.name': 'text' } as const;
    await c.createIndexes([{ key: spec, name: 'words', default_language: 'none' }]);
    await c.createIndexes([{ key: spec, name: 'words', default_language: 'none' }]);
    const [index] = ((await c.listIndexes().toArray()) as IndexDescriptionInfo[]).filter((i) => i.name === 'words');
    expect(index).toMatchObject({
      key: { _fts: 'text', _ftsx: 1 },
      weights: { 'actor.name': 1, note: 1, 'target.name': 1 },
      default_language: 'none',
      language_override: 'language',
      textIndexVersion: 3,
    });
    const other = await serverError(c.createIndexes([{ key: { body: 'text' }, name: 'other', default_language: 'none' }]));
    expect(other.code).toBe(85);
    const renamed = await serverError(c.createIndexes([{ key: spec, name: 'renamed', default_language: 'none' }]));
    expect(renamed.code).toBe(85);
  });

  it('searches text: any term, every phrase, case and accents aside, negations, on indexed fields only', async () => {
    const c = db.collection<{ n: number; note?: string; target?: { name: string } | null; tags?: string[]; other?: string }>('search');
    await c.createIndexes([{ key: { note: 'text', 'target.name': 'text', tags: 'text' }, name: 'words', default_language: 'none' }]);
    await c.insertMany([
      { n: 1, note: 'Manual override approved by the supervisor', target: { name: 'Loan #981' } },
      { n: 2, note: 'Approved', target: { name: 'Bo Ström' } },
      { n: 3, note: null as never, target: null, tags: ['red-convertible', 'ÉTÉ'] },
      { n: 4, other: 'override supervisor' },
    ]);
    const found = async (search: string) => (await c.find({ $text: { $search: search } }, { sort: { n: 1 } }).toArray()).map((d) => d.n);
    expect(await found('override')).toEqual([1]);
    expect(await found('OVERRIDE convertible')).toEqual([1, 3]);
    expect(await found('"supervisor" "manual"')).toEqual([1]);
    expect(await found('"override" "convertible"')).toEqual([]);
    expect(await found('strom')).toEqual([2]);
    expect(await found('"ström"')).toEqual([2]);
    expect(await found('ete')).toEqual([3]);
    expect(await found('981')).toEqual([1]);
    expect(await found('approved -manual')).toEqual([2]);
    expect(await found('approved -"the supervisor"')).toEqual([2]);
    // A phrase is a substring of one field; the search still needs one whole term.
    expect(await found('"manual" "over"')).toEqual([1]);
    expect(await found('"over"')).toEqual([]);
    expect(await found('"red-convertible"')).toEqual([3]);
    expect(await found('"red convertible"')).toEqual([]);
    expect(await c.countDocuments({ $text: { $search: 'approved' }, n: { $gt: 1 } })).toBe(1);
    expect(await c.countDocuments({ $and: [{ $text: { $search: 'approved' } }, { n: 1 }] })).toBe(1);
    const grouped = await c
      .aggregate([{ $match: { $text: { $search: 'approved' } } }, { $group: { _id: null, n: { $sum: '$n' } } }])
      .toArray();
    expect(grouped).toEqual([{ _id: null, n: 3 }]);
  });

  it('fails a text search without a text index, or with $text where MongoDB does not take it', async () => {
    const plain = db.collection('plain');
    await plain.insertOne({ note: 'override' });
    expect((await serverError(plain.find({ $text: { $search: 'override' } }).toArray())).code).toBe(27);
    expect(
      (
        await serverError(
          db
            .collection('absent')
            .find({ $text: { $search: 'x' } })
            .toArray(),
        )
      ).code,
    ).toBe(27);
    expect((await serverError(plain.countDocuments({ $text: { $search: 'override' } }))).code).toBe(27);
    const c = db.collection('search2');
    await c.createIndexes([{ key: { note: 'text' }, name: 'words', default_language: 'none' }]);
    await c.insertOne({ note: 'override' });
    const late = await serverError(c.aggregate([{ $match: {} }, { $match: { $text: { $search: 'override' } } }]).toArray());
    expect(late.code).toBe(17313);
    const twice = await serverError(c.find({ $text: { $search: 'a' }, $and: [{ $text: { $search: 'b' } }] }).toArray());
    expect(twice.code).toBe(2);
    const nor = await serverError(c.find({ $nor: [{ $text: { $search: 'a' } }] }).toArray());
    expect(nor.code).toBe(2);
    const missing = await serverError(c.find({ $text: { $language: 'none' } } as never).toArray());
    expect(missing.code).toBe(2);
  });

  it('counts distinct values with $unwind, $group, $sort, a $match on the groups and $limit', async () => {
    const c = db.collection('facets');
    await c.insertMany([
      { t: 'a', tags: [{ type: 'vip' }, { type: 'vip' }, { type: 'audit' }] },
      { t: 'b', tags: [{ type: 'vip' }] },
      { t: 'a', tags: [] },
      { t: null, tags: [{ type: 'late' }] },
      { tags: [{ type: 'audit' }] },
    ]);
    const byType = await c
      .aggregate([
        { $unwind: '$tags' },
        { $group: { _id: { doc: '$_id', value: '$tags.type' } } },
        { $group: { _id: '$_id.value', count: { $sum: 1 } } },
        { $sort: { count: -1, _id: 1 } },
      ])
      .toArray();
    expect(byType).toEqual([
      { _id: 'audit', count: 2 },
      { _id: 'vip', count: 2 },
      { _id: 'late', count: 1 },
    ]);
    const page = await c
      .aggregate([
        { $group: { _id: '$t', count: { $sum: 1 } } },
        { $match: { _id: { $ne: null } } },
        { $sort: { count: -1, _id: 1 } },
        { $match: { $or: [{ count: { $lt: 2 } }, { count: 2, _id: { $gt: 'a' } }] } },
        { $limit: 1 },
      ])
      .toArray();
    expect(page).toEqual([{ _id: 'b', count: 1 }]);
  });

  it('keeps what a failing write applied before it failed, and says which of its writes failed', async () => {
    const c = db.collection<{ _id: number; u?: string; n?: number }>('partial');
    await c.createIndex({ u: 1 }, { unique: true, sparse: true, name: 'u_unique' }, undefined);
    await c.insertMany([
      { _id: 1, u: 'a', n: 1 },
      { _id: 2, u: 'b', n: 2 },
    ]);
    const indexesOf = (e: unknown) => (e as MongoBulkWriteError).writeErrors as unknown as Array<{ index: number }>;
    // An ordered insert stops at its first error; what ran before it stays.
    const ordered = await serverError(
      c.insertMany([
        { _id: 3, u: 'c' },
        { _id: 4, u: 'a' },
        { _id: 5, u: 'e' },
      ]),
    );
    expect([indexesOf(ordered)].flat().map((w) => w.index)).toEqual([1]);
    expect((await c.find().toArray()).map((d) => d._id)).toEqual([1, 2, 3]);
    // A multi-document update stopped by a duplicate key keeps the documents it updated before it.
    const many = await serverError(c.updateMany({ n: { $gte: 1 } }, { $set: { u: 'same' } }));
    expect(many.code).toBe(11000);
    expect(await c.countDocuments({ u: 'same' })).toBe(1);
    // An unordered bulk runs every other operation, and its error carries their result.
    const bulk = (await serverError(
      c.bulkWrite(
        [
          { insertOne: { document: { _id: 6, u: 'f' } } },
          { insertOne: { document: { _id: 7, u: 'f' } } },
          { updateOne: { filter: { _id: 3 }, update: { $set: { n: 30 } } } },
          { updateOne: { filter: { _id: 9 }, update: { $set: { n: 9 } }, upsert: true } },
        ],
        { ordered: false },
      ),
    )) as unknown as MongoBulkWriteError;
    expect([indexesOf(bulk)].flat().map((w) => w.index)).toEqual([1]);
    expect(bulk.result.upsertedIds).toEqual({ 3: 9 });
    expect([bulk.result.insertedCount, bulk.result.matchedCount]).toEqual([1, 1]);
    // findAndModify's result metadata: matched, upserted, removed.
    const matched = await c.findOneAndUpdate({ _id: 3 }, { $inc: { n: 1 } }, { includeResultMetadata: true });
    expect(matched.lastErrorObject).toMatchObject({ n: 1, updatedExisting: true });
    expect(matched.value).toEqual({ _id: 3, u: 'c', n: 30 });
    const upserted = await c.findOneAndUpdate({ _id: 10 }, { $set: { n: 1 } }, { upsert: true, includeResultMetadata: true });
    expect(upserted.lastErrorObject).toEqual({ n: 1, updatedExisting: false, upserted: 10 });
    expect(upserted.value).toBeNull();
    expect((await c.findOneAndDelete({ _id: 10 }, { includeResultMetadata: true })).lastErrorObject).toEqual({ n: 1 });
    const none = await c.findOneAndDelete({ _id: 99 }, { includeResultMetadata: true });
    expect([none.lastErrorObject, none.value]).toEqual([{ n: 0 }, null]);
  });

  it('commits a transaction, aborts another, and hides uncommitted writes from others', async () => {
    const c = db.collection('txn');
    await c.insertOne({ _id: 'acct' as never, balance: 10 });
    const session = client.startSession();
    try {
      await session.withTransaction(async () => {
        await c.updateOne({ _id: 'acct' as never }, { $inc: { balance: -3 } }, { session });
        await c.insertOne({ _id: 'entry1' as never, amount: 3 }, { session });
        expect((await c.findOne({ _id: 'acct' as never }, { session }))!.balance).toBe(7);
        expect((await c.findOne({ _id: 'acct' as never }))!.balance).toBe(10);
        expect(await c.findOne({ _id: 'entry1' as never })).toBeNull();
      });
      expect((await c.findOne({ _id: 'acct' as never }))!.balance).toBe(7);
      session.startTransaction();
      await c.insertOne({ _id: 'entry2' as never, amount: 1 }, { session });
      await c.deleteOne({ _id: 'entry1' as never }, { session });
      await session.abortTransaction();
      expect(await c.findOne({ _id: 'entry2' as never })).toBeNull();
      expect(await c.findOne({ _id: 'entry1' as never })).not.toBeNull();
    } finally {
      await session.endSession();
    }
  });

  it('fails a transaction whose document another writer changed, with a TransientTransactionError', async () => {
    const c = db.collection('conflict');
    await c.insertOne({ _id: 'doc' as never, v: 0 });
    const session = client.startSession();
    session.startTransaction();
    let failure: MongoServerError | undefined;
    try {
      await c.findOne({ _id: 'doc' as never }, { session });
      await c.updateOne({ _id: 'doc' as never }, { $set: { v: 'outside' } });
      await c.updateOne({ _id: 'doc' as never }, { $set: { v: 'inside' } }, { session });
      await session.commitTransaction();
    } catch (error) {
      failure = error as MongoServerError;
      await session.abortTransaction().catch(() => {});
    } finally {
      await session.endSession();
    }
    expect(failure?.hasErrorLabel('TransientTransactionError')).toBe(true);
    expect((await c.findOne({ _id: 'doc' as never }))!.v).toBe('outside');
  });

  it.runIf(mongoKind() === 'wire')('(test server only) refuses what it does not implement instead of ignoring it', async () => {
    const c = db.collection('strict');
    const collation = await serverError(c.find({}, { collation: { locale: 'fr' } }).toArray());
    expect(collation.code).toBe(238);
    const out = await serverError(c.aggregate([{ $out: 'elsewhere' }]).toArray());
    expect(out.codeName).toBe('NotImplemented');
    const text = await serverError(c.createIndex({ body: 'text' }));
    expect(text.codeName).toBe('NotImplemented');
  });
});

describe('MongoDB query plans as the tests use them', () => {
  it('explains a find that one index answers, scanning it in the direction of the sort', async () => {
    const c = db.collection('plans');
    await c.createIndexes([
      { key: { model: 1, model_id: 1, at: -1, _id: -1 }, name: 'model_model_id_at_id' },
      { key: { at: -1, _id: -1 }, name: 'at_id' },
      { key: { tags: 1 }, name: 'tags', sparse: true },
    ]);
    await c.insertMany([
      { model: 'orders', model_id: '1', at: new Date(1), tags: ['a'] },
      { model: 'orders', model_id: '1', at: new Date(2) },
      { model: 'users', model_id: '1', at: new Date(3) },
    ]);
    const history = c
      .find({ model: 'orders', model_id: '1' }, { projection: { note: 0 } })
      .sort({ at: 1, _id: 1 })
      .limit(2);
    const stages = planStages(await history.explain('queryPlanner'));
    expect(stages).toContain('IXSCAN model_model_id_at_id backward');
    expect(stages).not.toContain('SORT');
    expect(stages).not.toContain('COLLSCAN');
    // No index on the fields: the collection is scanned, and sorted; an index that gives the sort is read whole instead.
    expect(planStages(await c.find({ model_id: '1' }).sort({ n: 1 }).explain('queryPlanner'))).toEqual(['SORT', 'COLLSCAN']);
    expect(planStages(await c.find({ model_id: '1' }).sort({ model: 1 }).explain('queryPlanner'))).toEqual([
      'FETCH',
      'IXSCAN model_model_id_at_id forward',
    ]);
    // A hint decides between indexes that both could answer.
    const hinted = c.find({ model: 'orders', at: { $gte: new Date(0) } }, { hint: 'model_model_id_at_id' }).sort({ at: -1 });
    expect(planStages(await hinted.explain('queryPlanner'))).toContain('IXSCAN model_model_id_at_id forward');
  });

  it('follows a hint: an unknown index is refused, a sparse one leaves out what it does not hold', async () => {
    const c = db.collection('hints');
    await c.createIndexes([{ key: { tags: 1 }, name: 'tags', sparse: true }]);
    await c.insertMany([{ n: 1, tags: ['a'] }, { n: 2 }]);
    const refused = await serverError(c.find({}, { hint: 'nope' }).toArray());
    expect(refused.code).toBe(2);
    expect(refused.message).toMatch(/hint provided does not correspond to an existing index/);
    expect((await serverError(c.find({}, { hint: { n: 1 } }).toArray())).code).toBe(2);
    expect((await serverError(c.updateOne({ n: 1 }, { $set: { seen: true } }, { hint: 'nope' }))).code).toBe(2);
    expect((await serverError(c.deleteOne({ n: 1 }, { hint: 'nope' }))).code).toBe(2);
    expect((await serverError(c.countDocuments({}, { hint: 'nope' }))).code).toBe(2);
    expect((await c.find({}, { hint: 'tags' }).toArray()).map((d) => d.n as number)).toEqual([1]);
    expect((await c.find({}, { hint: { $natural: 1 } }).toArray()).map((d) => d.n as number).sort()).toEqual([1, 2]);
  });

  it.runIf(mongoKind() === 'wire')(
    '(test server only) refuses to explain what MongoDB decides by racing plans, or by running them',
    async () => {
      const c = db.collection('plans');
      await c.createIndexes([
        { key: { model: 1, at: -1 }, name: 'model_at' },
        { key: { at: -1 }, name: 'at' },
      ]);
      await c.insertOne({ model: 'orders', at: new Date(1) });
      const raced = await serverError(c.find({ model: 'orders', at: { $gte: new Date(0) } }).explain('queryPlanner'));
      expect(raced.codeName).toBe('NotImplemented');
      expect(raced.message).toMatch(/model_at, at: MongoDB races them/);
      expect((await serverError(c.find({ model: 'orders' }).explain('executionStats'))).codeName).toBe('NotImplemented');
      expect((await serverError(c.find({ $or: [{ model: 'a' }, { at: new Date(0) }] }).explain('queryPlanner'))).codeName).toBe(
        'NotImplemented',
      );
    },
  );
});

afterAll(() => {});
