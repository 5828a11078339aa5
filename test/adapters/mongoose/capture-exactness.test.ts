import { type Connection, Schema, Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ModelLog } from 'actionlog';
import { actionLogPlugin } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { exactLogger, expectExact, storedDocuments } from '../../support/mongoose-exact.js';

// Each test compares what was recorded with what the database held before and after, read with the native driver.
const { logger, errors, logsOf } = exactLogger();
const connect = useMongooseConnection();
let conn: Connection;

const paths = () => ({
  sku: { type: String, unique: true, sparse: true },
  n: { type: Number, min: 0 },
  s: String,
  total: Number,
  tags: [String],
  meta: Schema.Types.Mixed,
  spec: new Schema({ color: String, size: Number }, { _id: false }),
});
const plain = new Schema(paths()).plugin(actionLogPlugin(logger));
const stamped = new Schema(paths(), { timestamps: true }).plugin(actionLogPlugin(logger));

const authors = new Schema({ name: String }).plugin(actionLogPlugin(logger));
const posts = new Schema({
  title: String,
  author: { type: Schema.Types.ObjectId, ref: 'ExactAuthor' },
  readers: [{ type: Schema.Types.ObjectId, ref: 'ExactAuthor' }],
}).plugin(actionLogPlugin(logger));
// Refs inside a document array, a single-nested subdocument and a nested path.
const authorRef = () => ({ type: Schema.Types.ObjectId, ref: 'ExactAuthor' });
const orders = new Schema({
  title: String,
  items: [new Schema({ product: authorRef(), qty: Number, fans: [authorRef()] })],
  main: new Schema({ product: authorRef() }, { _id: false }),
  shipping: { by: authorRef(), note: String },
}).plugin(actionLogPlugin(logger));
// Refs in arrays of arrays of subdocuments (Mongoose populates those, not arrays of arrays of ids).
const grids = new Schema({
  cells: [[new Schema({ by: authorRef(), note: String }, { _id: false })]],
}).plugin(actionLogPlugin(logger));
// Refs declared only in embedded discriminators (of a document array, of a single-nested subdocument).
const events = new Schema({
  events: [new Schema({ kind: String, note: String }, { discriminatorKey: 'kind', _id: false })],
  last: new Schema({ kind: String }, { discriminatorKey: 'kind', _id: false }),
}).plugin(actionLogPlugin(logger));
events.path<Schema.Types.DocumentArray>('events').discriminator('Clicked', new Schema({ by: authorRef() }, { _id: false }));
events.path<Schema.Types.Subdocument>('last').discriminator('Seen', new Schema({ by: authorRef() }, { _id: false }), 'seen');
// A recursive schema: refs at every depth of its children.
const tree = new Schema({ name: String, owner: authorRef() });
tree.add({ children: [tree] });
tree.plugin(actionLogPlugin(logger));
// Values that change in place (Mixed, Date) inside a document array, an array, a subdocument and a nested path.
const inPlace = new Schema({
  items: [new Schema({ meta: {} }, { _id: false })],
  dates: [Date],
  mixes: [Schema.Types.Mixed],
  sub: new Schema({ meta: {} }, { _id: false }),
  nest: { meta: {} },
}).plugin(actionLogPlugin(logger));
const mapped = new Schema({
  attrs: { type: Map, of: String },
  prices: { type: Map, of: new Schema({ amount: Number }, { _id: false }) },
}).plugin(actionLogPlugin(logger));
// A multi-tenant plugin registered after actionlog's: its pre hooks narrow each write to the current tenant.
const tenanted = new Schema({ tenant: String, name: String, n: Number }).plugin(actionLogPlugin(logger)).plugin((schema: Schema) => {
  schema.pre(['updateMany', 'deleteMany'], function () {
    this.where({ tenant: 't1' });
  });
});

const compile = (c: Connection) => ({
  Item: c.model('ExactItem', plain),
  Dated: c.model('ExactDated', stamped),
  Author: c.model('ExactAuthor', authors),
  Post: c.model('ExactPost', posts),
  Order: c.model('ExactOrder', orders),
  Eventful: c.model('ExactEventful', events),
  Tree: c.model('ExactTree', tree),
  Grid: c.model('ExactGrid', grids),
  Mapped: c.model('ExactMapped', mapped),
  InPlace: c.model('ExactInPlace', inPlace),
  Tenanted: c.model('ExactTenanted', tenanted),
});
let Item: ReturnType<typeof compile>['Item'];
let Dated: ReturnType<typeof compile>['Dated'];
let Author: ReturnType<typeof compile>['Author'];
let Post: ReturnType<typeof compile>['Post'];
let Order: ReturnType<typeof compile>['Order'];
let Eventful: ReturnType<typeof compile>['Eventful'];
let Tree: ReturnType<typeof compile>['Tree'];
let Grid: ReturnType<typeof compile>['Grid'];
let Mapped: ReturnType<typeof compile>['Mapped'];
let InPlace: ReturnType<typeof compile>['InPlace'];
let Tenanted: ReturnType<typeof compile>['Tenanted'];

const a = new Types.ObjectId();
const b = new Types.ObjectId();
const c = new Types.ObjectId();

beforeAll(async () => {
  conn = await connect();
  ({ Item, Dated, Author, Post, Order, Eventful, Tree, Grid, Mapped, InPlace, Tenanted } = compile(conn));
  await Promise.all([Item.init(), Dated.init()]);
});
afterAll(async () => {
  await logger.close();
});
beforeEach(async () => {
  errors.length = 0;
  for (const M of [Item, Dated]) {
    await M.collection.deleteMany({});
    await M.collection.insertMany([
      { _id: a, sku: 'a', n: 1, s: 'one', total: 10, tags: ['x'], meta: { k: 1 }, spec: { color: 'blue', size: 1 }, __v: 0 },
      { _id: b, sku: 'b', n: 2, s: 'two', total: 20, tags: [], meta: { k: 2 }, spec: { color: 'green', size: 2 }, __v: 0 },
      { _id: c, sku: 'c', n: 3, s: 'three', total: 30, tags: ['y'], meta: { k: 3 }, spec: { color: 'red', size: 3 }, __v: 0 },
    ]);
  }
});

type AnyItemModel =
  | typeof Item
  | typeof Dated
  | typeof Post
  | typeof Order
  | typeof Eventful
  | typeof Tree
  | typeof Grid
  | typeof Mapped
  | typeof InPlace
  | typeof Tenanted;

/** Runs `fn` as one request; checks its logs against the database before and after; returns them. */
async function exactly(M: AnyItemModel, fn: () => Promise<unknown>) {
  const before = await storedDocuments(M);
  const logs = await logsOf(async () => {
    await fn().catch(() => {});
  });
  const after = await storedDocuments(M);
  expectExact(before, logs, after, errors);
  return logs;
}

describe('capture exactness: the less common write calls record exactly what was written', () => {
  it('1. findOneAnd* and upserts with includeResultMetadata record the document, not the { value, lastErrorObject, ok } reply', async () => {
    const logs = await exactly(Item, async () => {
      const updated = await Item.findOneAndUpdate({ sku: 'a' }, { $inc: { n: 1 } }, { includeResultMetadata: true });
      expect(updated.value?.n).toBe(1);
      await Item.findOneAndReplace({ sku: 'b' }, { sku: 'b', n: 7 }, { includeResultMetadata: true, returnDocument: 'after' });
      await Item.findOneAndDelete({ sku: 'c' }, { includeResultMetadata: true });
      await Item.findOneAndUpdate({ sku: 'new' }, { $set: { n: 5 } }, { includeResultMetadata: true, upsert: true });
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- `new` is still accepted, so it is recorded too
      await Item.findOneAndUpdate({ sku: 'new2' }, { $set: { n: 6 } }, { includeResultMetadata: true, upsert: true, new: true });
    });
    expect(logs.map((l) => l.action)).toEqual(['Updated', 'Updated', 'Deleted', 'Created', 'Created']);
  });

  it('2. findOneAnd* with a projection records the whole stored documents', async () => {
    const logs = await exactly(Item, async () => {
      const selected = await Item.findOneAndUpdate({ sku: 'a' }, { $set: { s: 'uno' } }).select('s');
      expect(selected?.toObject()).toEqual({ _id: a, s: 'one' });
      await Item.findOneAndUpdate({ sku: 'b' }, { $inc: { total: 1 } }, { projection: { total: 1 }, returnDocument: 'after' });
      await Item.findOneAndDelete({ sku: 'c' }, { projection: { total: 1 } });
    });
    expect(logs.map((l) => l.action)).toEqual(['Updated', 'Updated', 'Deleted']);
    expect(logs[0]!.model_details.old_object).toMatchObject({ sku: 'a', n: 1, meta: { k: 1 } });
  });

  it('3. a Mixed path changed in place and then marked modified keeps its old state, with or without timestamps', async () => {
    for (const M of [Item, Dated] as AnyItemModel[]) {
      const doc = (await (M as typeof Item).findById(a))!;
      const logs = await exactly(M, async () => {
        (doc.meta as { k: number }).k = 99;
        doc.markModified('meta');
        await doc.save();
      });
      expect(logs.map((l) => l.action)).toEqual(['Updated']);
      expect(logs[0]!.model_details.changed_fields).toContain('meta.k');
    }
  });

  it('3b. a Mixed path changed in place twice, marked modified each time, keeps its stored old state; set, it is not read', async () => {
    for (const M of [Item, Dated] as AnyItemModel[]) {
      const reads = vi.spyOn(M.collection, 'find');
      const doc = (await (M as typeof Item).findById(a))!;
      const readsOfSaves: number[] = [];
      const saved = async () => {
        reads.mockClear();
        await doc.save();
        readsOfSaves.push(reads.mock.calls.length);
      };
      const logs = await exactly(M, async () => {
        (doc.meta as { k: number }).k = 98;
        doc.markModified('meta');
        (doc.meta as { k: number; j?: number }).j = 1;
        doc.markModified('meta.j');
        await saved();
        // Set rather than changed in place: Mongoose keeps the value before.
        doc.meta = { k: 7 };
        await saved();
      });
      expect(logs.map((l) => l.model_details.old_object?.meta)).toEqual([{ k: 1 }, { k: 98, j: 1 }]);
      // The stored document is read for the save after the changes in place, not for the one after a set.
      expect(readsOfSaves).toEqual([1, 0]);
      reads.mockRestore();
    }
  });

  it('3c. a value changed in place twice inside a path marked modified by a parent path keeps its stored old state', async () => {
    type Meta = { a?: number };
    type Loaded = InstanceType<typeof InPlace>;
    // Each changes a Mixed value or a Date inside the path it marks, to `n`.
    const changes: Array<[string, (doc: Loaded, n: number) => void]> = [
      ['items', (doc, n) => ((doc.items[0]!.meta as Meta).a = n)],
      ['dates', (doc, n) => (doc.dates[0] as unknown as Date).setUTCFullYear(2000 + n)],
      ['mixes', (doc, n) => ((doc.mixes[0] as Meta).a = n)],
      ['sub', (doc, n) => ((doc.sub!.meta as Meta).a = n)],
      ['nest', (doc, n) => ((doc.nest!.meta as Meta).a = n)],
    ];
    const { insertedId } = await InPlace.collection.insertOne({
      items: [{ meta: { a: 0 } }],
      dates: [new Date('1999-01-01T00:00:00Z')],
      mixes: [{ a: 0 }],
      sub: { meta: { a: 0 } },
      nest: { meta: { a: 0 } },
    });
    for (const [path, change] of changes) {
      const doc = (await InPlace.findById(insertedId))!;
      const logs = await exactly(InPlace, async () => {
        change(doc, 1);
        doc.markModified(path);
        change(doc, 2);
        doc.markModified(path);
        await doc.save();
      });
      // exactly() checks each old object against the stored document: it shows the value before the first change.
      expect([path, logs.map((l) => l.model_details.changed_fields.length > 0)]).toEqual([path, [true]]);
    }
  });

  it('4. Model.bulkSave([newDoc, changedLoadedDoc]) records each change once', async () => {
    const loaded = (await Item.findById(a))!;
    const logs = await exactly(Item, async () => {
      loaded.n = 11;
      await Item.bulkSave([new Item({ sku: 'd', n: 4 }), loaded]);
    });
    expect(logs.map((l) => l.action)).toEqual(['Created', 'Updated']);
  });

  it('5. insertMany({ ordered: false }) where one document fails records the others, which were inserted', async () => {
    const logs = await exactly(Item, async () => {
      await expect(Item.insertMany([{ sku: 'd' }, { sku: 'a' }, { sku: 'e' }], { ordered: false })).rejects.toThrow(/duplicate key/);
    });
    expect(logs.map((l) => [l.action, l.model_details.new_object?.sku])).toEqual([
      ['Created', 'd'],
      ['Created', 'e'],
    ]);
  });

  it('6. bulkWrite({ ordered: false }) with one failing op records the ops that were applied', async () => {
    const logs = await exactly(Item, async () => {
      await expect(
        Item.bulkWrite(
          [
            { insertOne: { document: { sku: 'd', n: 4 } } },
            { insertOne: { document: { sku: 'a' } } },
            { updateOne: { filter: { sku: 'b' }, update: { $set: { n: 22 } } } },
            { deleteOne: { filter: { sku: 'c' } } },
          ],
          { ordered: false },
        ),
      ).rejects.toThrow(/duplicate key/);
    });
    expect(logs.map((l) => l.action)).toEqual(['Created', 'Updated', 'Deleted']);
  });

  it('7. a query update setting a whole single-nested subdocument reports the same changed_fields as save()', async () => {
    const byQuery = await exactly(Item, () => Item.updateOne({ _id: a }, { $set: { spec: { color: 'black', size: 1 } } }));
    const doc = (await Item.findById(b))!;
    const bySave = await exactly(Item, async () => {
      doc.spec = { color: 'black', size: 2 };
      await doc.save();
    });
    expect(byQuery[0]!.model_details.changed_fields).toEqual(['spec.color']);
    expect(bySave[0]!.model_details.changed_fields).toEqual(['spec.color']);
  });

  it('8. save() of a populated document records the refs as stored ids, old and new', async () => {
    const [ann, bob] = await Author.create([{ name: 'ann' }, { name: 'bob' }]);
    const post = await Post.create({ title: 't', author: ann!._id, readers: [ann!._id] });
    const single = (await Post.findById(post._id).populate('author'))!;
    const reassigned = await exactly(Post, async () => {
      single.set('author', bob); // a document where the id was: Mongoose populates it
      await single.save();
    });
    expect(reassigned[0]!.model_details.old_object?.author).toBe(ann!.id);
    expect(reassigned[0]!.model_details.new_object?.author).toBe(bob!.id);
    expect(reassigned[0]!.model_details.changed_fields).toEqual(['author']);
    const many = (await Post.findById(post._id).populate('readers'))!;
    const pushed = await exactly(Post, async () => {
      (many.readers as unknown as unknown[]).push(bob);
      await many.save();
    });
    expect(pushed[0]!.model_details.old_object?.readers).toEqual([ann!.id]);
    expect(pushed[0]!.model_details.new_object?.readers).toEqual([ann!.id, bob!.id]);
    expect(pushed[0]!.model_details.changed_fields).toEqual(['readers.1', '__v']);
  });

  it('8b. save() of a document populated inside subdocuments records those refs as stored ids, without a read', async () => {
    const [ann, bob] = await Author.create([{ name: 'ann' }, { name: 'bob' }]);
    const order = await Order.create({
      title: 't',
      items: [{ product: ann!._id, qty: 1, fans: [ann!._id, bob!._id] }],
      main: { product: ann!._id },
      shipping: { by: ann!._id, note: 'x' },
    });
    const reads = vi.spyOn(Order.collection, 'find');
    const load = () => Order.findById(order._id).populate(['items.product', 'items.fans', 'main.product', 'shipping.by']).orFail();
    const pushing = await load();
    expect(pushing.populated('items.product')).toBeDefined();
    reads.mockClear();
    const pushed = await exactly(Order, async () => {
      pushing.items.push({ product: bob!._id, qty: 2 });
      await pushing.save();
    });
    const stored = (await Order.collection.findOne({ _id: order._id }))!;
    expect(pushed[0]!.model_details.old_object?.items).toEqual([
      { _id: String((stored.items as Array<{ _id: unknown }>)[0]!._id), product: ann!.id, qty: 1, fans: [ann!.id, bob!.id] },
    ]);
    expect(pushed[0]!.model_details.changed_fields).toEqual(['items.1', '__v']);
    const setting = await load();
    const set = await exactly(Order, async () => {
      setting.set('main.product', bob); // documents where ids were: Mongoose populates them
      setting.set('items.0.product', bob);
      setting.set('shipping.note', 'y');
      await setting.save();
    });
    expect(set[0]!.model_details.old_object).toMatchObject({ main: { product: ann!.id }, shipping: { by: ann!.id, note: 'x' } });
    expect([...set[0]!.model_details.changed_fields].sort()).toEqual(['items.0.product', 'main.product', 'shipping.note']);
    // The old state came from what Mongoose kept since loading: exactly() reads twice per call, save() never.
    expect(reads.mock.calls.length).toBe(4);
    reads.mockRestore();
  });

  it('8c. save() of a document populated through embedded discriminators records those refs as stored ids', async () => {
    const [ann, bob] = await Author.create([{ name: 'ann' }, { name: 'bob' }]);
    const { insertedId } = await Eventful.collection.insertOne({
      events: [
        { kind: 'Clicked', by: ann!._id, note: 'a' },
        { kind: 'Other', note: 'b' },
      ],
      last: { kind: 'seen', by: ann!._id },
    });
    const doc = await Eventful.findById(insertedId).populate(['events.by', 'last.by']).orFail();
    expect(doc.populated('events.by')).toBeDefined();
    const logs = await exactly(Eventful, async () => {
      doc.events[0]!.note = 'changed';
      doc.events.push({ kind: 'Clicked', by: bob!._id });
      doc.set('last.by', bob); // a document where the id was: Mongoose populates it
      await doc.save();
    });
    expect(logs[0]!.model_details.old_object).toMatchObject({
      events: [{ kind: 'Clicked', by: ann!.id, note: 'a' }, { kind: 'Other' }],
      last: { kind: 'seen', by: ann!.id },
    });
  });

  it('8d. save() of a recursive document populated at depth records those refs as stored ids', async () => {
    const [ann, bob] = await Author.create([{ name: 'ann' }, { name: 'bob' }]);
    const { insertedId } = await Tree.collection.insertOne({
      name: 'root',
      owner: ann!._id,
      children: [
        {
          _id: new Types.ObjectId(),
          name: 'branch',
          owner: bob!._id,
          children: [{ _id: new Types.ObjectId(), name: 'leaf', owner: ann!._id, children: [] }],
        },
      ],
    });
    const doc = await Tree.findById(insertedId).populate(['owner', 'children.owner', 'children.children.owner']).orFail();
    const logs = await exactly(Tree, async () => {
      doc.set('children.0.children.0.name', 'renamed');
      await doc.save();
    });
    expect(logs[0]!.model_details.old_object).toMatchObject({
      owner: ann!.id,
      children: [{ name: 'branch', owner: bob!.id, children: [{ name: 'leaf', owner: ann!.id }] }],
    });
  });

  it('8e. save() of a document populated inside arrays of arrays records those refs as stored ids', async () => {
    const [ann, bob] = await Author.create([{ name: 'ann' }, { name: 'bob' }]);
    const { insertedId } = await Grid.collection.insertOne({
      cells: [[{ by: ann!._id, note: 'a' }], [{ by: bob!._id, note: 'b' }]],
    });
    const doc = await Grid.findById(insertedId).populate('cells.by').orFail();
    expect(doc.populated('cells.by')).toBeDefined();
    const logs = await exactly(Grid, async () => {
      doc.set('cells.1.0.note', 'changed');
      doc.markModified('cells');
      await doc.save();
    });
    expect(logs[0]!.model_details.old_object).toMatchObject({
      cells: [[{ by: ann!.id, note: 'a' }], [{ by: bob!.id, note: 'b' }]],
    });
  });

  it('9. save() after a Map changed in place (set twice, delete, a subdocument in it) records its old state', async () => {
    const { _id } = await Mapped.create({ attrs: { color: 'red', size: 'L' }, prices: { eur: { amount: 1 } } });
    const doc = (await Mapped.findById(_id))!;
    const logs = await exactly(Mapped, async () => {
      doc.attrs!.set('color', 'blue');
      doc.attrs!.set('color', 'green');
      await doc.save();
      doc.attrs!.delete('size');
      await doc.save();
      doc.prices!.get('eur')!.amount = 2;
      await doc.save();
    });
    expect(logs.map((l) => [l.model_details.old_object, l.model_details.changed_fields])).toEqual([
      [expect.objectContaining({ attrs: { color: 'red', size: 'L' } }), ['attrs.color']],
      [expect.objectContaining({ attrs: { color: 'green', size: 'L' } }), ['attrs.size']],
      [expect.objectContaining({ prices: { eur: { amount: 1 } } }), ['prices.eur.amount']],
    ]);
  });

  it('10. updateMany() and deleteMany() narrowed by a later pre hook record only the documents written', async () => {
    const reads = vi.spyOn(Tenanted.collection, 'find');
    const tenantsOf = (logs: ModelLog[]) => logs.map((l) => [l.action, (l.model_details.old_object ?? l.model_details.new_object)?.tenant]);
    await Tenanted.collection.insertMany([
      { tenant: 't1', name: 'x', n: 1 },
      { tenant: 't2', name: 'x', n: 1 },
      { tenant: 't1', name: 'x', n: 1 },
    ]);
    const updated = await exactly(Tenanted, () => Tenanted.updateMany({ name: 'x' }, { $set: { n: 2 } }));
    expect(tenantsOf(updated)).toEqual([
      ['Updated', 't1'],
      ['Updated', 't1'],
    ]);
    // The common case, where the counts agree, reads nothing back: one read, before the write.
    let readsOfWrite = 0;
    const common = await exactly(Tenanted, async () => {
      reads.mockClear();
      await Tenanted.updateMany({ tenant: 't1' }, { $inc: { n: 1 } });
      readsOfWrite = reads.mock.calls.length;
    });
    expect(tenantsOf(common)).toEqual([
      ['Updated', 't1'],
      ['Updated', 't1'],
    ]);
    expect(readsOfWrite).toBe(1);
    const deleted = await exactly(Tenanted, () => Tenanted.deleteMany({ name: 'x' }));
    expect(tenantsOf(deleted)).toEqual([
      ['Deleted', 't1'],
      ['Deleted', 't1'],
    ]);
    expect((await Tenanted.collection.find({}).toArray()).map((d) => d.tenant as unknown)).toEqual(['t2']);
  });
});
