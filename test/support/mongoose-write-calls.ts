import fc from 'fast-check';
import { type Model, Schema, Types } from 'mongoose';

/** The small model every call of the table writes. */
export interface Item {
  sku?: string;
  n?: number;
  s?: string;
  status?: string;
  when?: Date;
  tags: string[];
  meta?: unknown;
  spec?: { color?: string; size?: number } | null;
  owner?: Types.ObjectId;
  attrs?: Map<string, string>;
}
export type ItemModel = Model<Item>;
export interface Owner {
  name: string;
}

/** A schema of the model (`sku` unique, `n` at least 0, `status` defaulted, a Mixed, a Date, a subdocument, a Map). */
export function itemSchema(): Schema<Item> {
  return new Schema<Item>({
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Mongoose types its schema options as a class but takes them as a plain object
    sku: { type: String, unique: true, sparse: true },
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- as above
    n: { type: Number, min: 0 },
    s: String,
    status: { type: String, default: 'new' },
    when: Date,
    tags: [String],
    meta: Schema.Types.Mixed,
    spec: new Schema({ color: String, size: Number }, { _id: false }),
    owner: { type: Schema.Types.ObjectId, ref: 'TableOwner' },
    attrs: { type: Map, of: String },
  });
}

export const A = new Types.ObjectId('650000000000000000000001');
export const B = new Types.ObjectId('650000000000000000000002');
export const C = new Types.ObjectId('650000000000000000000003');
export const OWNER = new Types.ObjectId('650000000000000000000009');

/** The stored documents every call starts from (C was stored before `status` had a default). */
export function seedDocuments(): Array<Record<string, unknown>> {
  return [
    {
      _id: A,
      sku: 'a',
      n: 1,
      s: 'one',
      status: 'new',
      when: new Date(0),
      tags: ['x'],
      meta: { k: 1, list: [1] },
      spec: { color: 'blue', size: 1 },
      __v: 0,
    },
    { _id: B, sku: 'b', n: 2, s: 'two', status: 'paid', tags: [], meta: { k: 2 }, spec: { color: 'green', size: 2 }, owner: OWNER, __v: 0 },
    { _id: C, sku: 'c', n: 3, s: 'three', tags: ['y'], __v: 0 },
  ];
}

/** One call of the table: run on a model seeded with `seedDocuments()`. */
export interface WriteCall {
  /** The call, as the README's table names it. */
  call: string;
  /** Its options, or the situation it meets. */
  options: string;
  /** What is recorded, as the README says. */
  recorded: string;
  /** Changes made outside Mongoose before the call (not recorded, not part of it). */
  setup?: (M: ItemModel) => Promise<unknown>;
  run: (M: ItemModel) => Promise<unknown>;
}

const load = async (M: ItemModel, id: Types.ObjectId) => {
  const doc = await M.findById(id);
  if (!doc) throw new Error(`no document ${String(id)}`);
  return doc;
};

const SAVE = 'Created, the document as stored';
const NOTHING = 'nothing';

/** Every call and option combination tested, in the README's order. */
export const WRITE_CALLS: WriteCall[] = [
  // save()
  { call: '`new Model().save()`, `Model.create()`', options: '', recorded: SAVE, run: (M) => M.create({ sku: 'd', n: 4 }) },
  {
    call: '`Model.create([...])`',
    options: 'one of them a duplicate key',
    recorded: 'Created for each document saved',
    run: (M) => M.create([{ sku: 'd' }, { sku: 'a' }, { sku: 'e' }]),
  },
  {
    call: '`Model.create([...])`',
    options: '`ordered: true`, a duplicate key midway',
    recorded: 'Created for those saved before it',
    run: (M) => M.create([{ sku: 'd' }, { sku: 'a' }, { sku: 'e' }], { ordered: true }),
  },
  {
    call: '`doc.save()` of a loaded document',
    options: 'paths set, array and subdocument changes',
    recorded: 'Updated: old state from what Mongoose loaded (no read), new as saved',
    run: async (M) => {
      const doc = await load(M, A);
      doc.s = 'uno';
      doc.tags.push('z');
      doc.spec!.color = 'navy';
      return doc.save();
    },
  },
  {
    call: '`doc.save()` of a loaded document',
    options: 'a Mixed value or a Date changed in place, then `markModified()`',
    recorded: 'Updated: Mongoose lost the old value, so the stored document is read before',
    run: async (M) => {
      const doc = await load(M, A);
      (doc.meta as { k: number }).k = 9;
      doc.markModified('meta');
      doc.when!.setUTCFullYear(2001);
      doc.markModified('when');
      return doc.save();
    },
  },
  {
    call: '`doc.save()` of a loaded document',
    options: 'a Map changed (`set()`, `delete()`, a subdocument in it)',
    recorded: "Updated: Mongoose keeps a Map's old value after its first change, so the stored document is read before",
    setup: (M) => M.collection.updateOne({ _id: B }, { $set: { attrs: { color: 'red', size: 'L' } } }),
    run: async (M) => {
      const doc = await load(M, B);
      doc.attrs!.set('color', 'blue');
      doc.attrs!.set('color', 'green');
      doc.attrs!.delete('size');
      return doc.save();
    },
  },
  {
    call: '`doc.save()` of a loaded document',
    options: 'loaded with `populate()`',
    recorded: 'Updated: references as the stored ids, old and new',
    run: async (M) => {
      const doc = await M.findById(B).populate('owner').orFail();
      doc.owner = undefined;
      return doc.save();
    },
  },
  {
    call: '`doc.save()` of a loaded document',
    options: 'loaded with a projection (`.select()`)',
    recorded: 'Updated: the stored document read before; new is it with the paths saved',
    run: async (M) => {
      const doc = await M.findById(A).select('n').orFail();
      doc.n = 10;
      return doc.save();
    },
  },
  {
    call: '`doc.save()` of a loaded document',
    options: 'loaded without a path that has a default; nothing else changed',
    recorded: 'Updated: the defaults Mongoose writes',
    run: async (M) => (await load(M, C)).save(),
  },
  {
    call: '`doc.save()` of a loaded document',
    options: '`pathsToSave`',
    recorded: 'Updated with only the paths saved',
    run: async (M) => {
      const doc = await load(M, A);
      doc.n = 11;
      doc.s = 'not saved';
      return doc.save({ pathsToSave: ['n'] });
    },
  },
  {
    call: '`doc.save()` of a document built by hand',
    options: '`isNew = false`',
    recorded: 'Updated: the stored document read before',
    run: async (M) => {
      const doc = new M({ _id: B });
      doc.isNew = false;
      doc.unmarkModified('_id');
      doc.s = 'by hand';
      return doc.save();
    },
  },
  {
    call: '`doc.save()`',
    options: 'failing validation, or a duplicate key',
    recorded: NOTHING,
    run: async (M) => {
      const doc = await load(M, A);
      doc.n = -1;
      await doc.save().catch(() => null);
      return M.create({ sku: 'b' });
    },
  },
  {
    call: '`doc.updateOne()`, `doc.deleteOne()`',
    options: '',
    recorded: 'as `updateOne()` and `deleteOne()`',
    run: async (M) => {
      const doc = await load(M, A);
      await doc.updateOne({ $set: { s: 'set' } });
      return (await load(M, B)).deleteOne();
    },
  },
  {
    call: '`Model.bulkSave([...])`',
    options: 'new and changed loaded documents',
    recorded: 'Created and Updated, once each (it writes through `bulkWrite()`)',
    run: async (M) => {
      const doc = await load(M, A);
      doc.n = 12;
      return M.bulkSave([new M({ sku: 'd' }), doc]);
    },
  },
  {
    call: '`Model.bulkSave([...])`',
    options: 'a duplicate key, ordered or `ordered: false`',
    recorded: 'what was written before it (ordered), or all but it (unordered)',
    run: async (M) => {
      const doc = await load(M, A);
      doc.n = 13;
      await M.bulkSave([new M({ sku: 'd' }), new M({ sku: 'b' }), doc]).catch(() => null);
      const other = await load(M, C);
      other.n = 14;
      return M.bulkSave([new M({ sku: 'e' }), new M({ sku: 'b' }), other], { ordered: false });
    },
  },
  {
    call: '`Model.bulkSave([...])`',
    options: 'a loaded document deleted meanwhile (`MongooseBulkSaveIncompleteError`)',
    recorded: 'the documents that were written',
    setup: (M) => M.collection.deleteOne({ _id: A }),
    run: (M) => {
      // As loaded before it was deleted.
      const gone = M.hydrate({ _id: A, sku: 'a', n: 1, tags: [], __v: 0 });
      gone.n = 15;
      return M.bulkSave([new M({ sku: 'd' }), gone]);
    },
  },
  // insertMany()
  {
    call: '`insertMany()`',
    options: '',
    recorded: 'Created per document inserted',
    run: (M) => M.insertMany([{ sku: 'd' }, { sku: 'e', n: 5 }]),
  },
  {
    call: '`insertMany()`',
    options: 'a duplicate key midway (ordered)',
    recorded: 'Created for those inserted before it',
    run: (M) => M.insertMany([{ sku: 'd' }, { sku: 'a' }, { sku: 'e' }]),
  },
  {
    call: '`insertMany()`',
    options: '`ordered: false`, a duplicate key',
    recorded: "Created for the others (the error's `insertedDocs`)",
    run: (M) => M.insertMany([{ sku: 'd' }, { sku: 'a' }, { sku: 'e' }], { ordered: false }),
  },
  {
    call: '`insertMany()`',
    options: '`ordered: false` with `throwOnValidationError`, or `rawResult`, and an invalid document',
    recorded: 'Created for the valid documents, which were inserted (Mongoose 9.7+)',
    run: async (M) => {
      await M.insertMany([{ sku: 'd' }, { n: -1 }], { ordered: false, throwOnValidationError: true }).catch(() => null);
      return M.insertMany([{ sku: 'e' }, { n: -2 }], { ordered: false, rawResult: true });
    },
  },
  {
    call: '`insertMany()`',
    options: '`rawResult: true`',
    recorded: 'Created per document inserted (Mongoose 9.7+)',
    run: (M) => M.insertMany([{ sku: 'd' }, { sku: 'e' }], { rawResult: true }),
  },
  {
    call: '`insertMany()`',
    options: '`lean: true`',
    recorded: 'Created per document, as the driver stores it',
    run: (M) => M.insertMany([{ sku: 'd', n: 1 }], { lean: true }),
  },
  {
    call: '`insertMany()`',
    options: '`populate`',
    recorded: 'Created per document, references stored as ids (Mongoose 9.7+)',
    run: (M) => M.insertMany([{ sku: 'd', owner: OWNER }], { populate: 'owner' }),
  },
  // Query writes
  {
    call: '`updateOne()`, `replaceOne()`',
    options: '',
    recorded: 'Updated for the one document written, not every match',
    run: async (M) => {
      await M.updateOne({ n: { $gte: 1 } }, { $inc: { n: 5 }, $push: { tags: 'p' } });
      return M.replaceOne({ _id: B }, { sku: 'b', n: 20 });
    },
  },
  {
    call: '`updateOne()`',
    options: 'a whole subdocument or Mixed value set',
    recorded: 'Updated, `changed_fields` inside it (`spec.color`), as `save()` gives',
    run: (M) => M.updateOne({ _id: A }, { $set: { spec: { color: 'black', size: 1 }, meta: { k: 1, list: [1, 2] } } }),
  },
  {
    call: '`updateOne()`',
    options: 'matching nothing, changing nothing, `runValidators` failing, a duplicate key',
    recorded: NOTHING,
    run: async (M) => {
      await M.updateOne({ sku: 'none' }, { $set: { n: 1 } });
      await M.updateOne({ _id: A }, { $set: { n: 1 } });
      await M.updateOne({ _id: A }, { $set: { n: -1 } }, { runValidators: true }).catch(() => null);
      return M.updateOne({ _id: A }, { $set: { sku: 'b' } });
    },
  },
  {
    call: '`updateOne()`, `replaceOne()`',
    options: '`upsert: true`',
    recorded: 'Created when the server reports it inserted, Updated otherwise',
    run: async (M) => {
      await M.updateOne({ sku: 'd' }, { $set: { n: 4 } }, { upsert: true });
      await M.updateOne({ sku: 'a' }, { $set: { n: 40 } }, { upsert: true });
      return M.replaceOne({ sku: 'e' }, { sku: 'e', n: 5 }, { upsert: true });
    },
  },
  {
    call: '`updateOne()`',
    options: 'an update pipeline',
    recorded: 'Updated, the new state read back',
    run: (M) => M.updateOne({ _id: A }, [{ $set: { n: { $add: ['$n', 100] } } }], { updatePipeline: true }),
  },
  {
    call: '`updateMany()`',
    options: '',
    recorded: 'Updated per document the update changed',
    run: (M) => M.updateMany({ n: { $gte: 2 } }, { $set: { status: 'bulk' }, $inc: { n: 1 } }),
  },
  {
    call: '`updateMany()`',
    options: 'failing part way (a duplicate key on its second document)',
    recorded: 'Updated for those written before it failed (read back)',
    run: (M) => M.updateMany({ n: { $gte: 2 } }, { $set: { sku: 'same' } }),
  },
  {
    call: '`deleteOne()`, `deleteMany()`',
    options: '',
    recorded: 'Deleted per removed document, with its old state',
    run: async (M) => {
      await M.deleteOne({ n: { $gte: 1 } });
      return M.deleteMany({ n: { $gte: 3 } });
    },
  },
  {
    call: '`findOneAndUpdate()`, `findByIdAndUpdate()`',
    options: 'returning the document as it was (default), `sort`',
    recorded: 'Updated for the document written; its old state comes with the write',
    run: async (M) => {
      await M.findOneAndUpdate({ n: { $gte: 1 } }, { $inc: { n: 1 } }, { sort: { n: -1 } });
      return M.findByIdAndUpdate(A, { $set: { s: 'by id' } });
    },
  },
  {
    call: '`findOneAndUpdate()`, `findOneAndReplace()`',
    options: "`returnDocument: 'after'`, `new: true`",
    recorded: 'Updated; the old state read first, the new one from the write',
    run: async (M) => {
      await M.findOneAndUpdate({ _id: A }, { $inc: { n: 1 } }, { returnDocument: 'after' });
      return M.findOneAndReplace({ _id: B }, { sku: 'b', n: 21 }, { returnDocument: 'after' });
    },
  },
  {
    call: '`findOneAndUpdate()`, `findOneAndReplace()`, `findOneAndDelete()`',
    options: '`projection`, `.select()`, `lean`',
    recorded: 'the whole stored documents; the caller gets the fields it asked for',
    run: async (M) => {
      await M.findOneAndUpdate({ _id: A }, { $set: { s: 'sel' } }).select('s');
      await M.findOneAndUpdate({ _id: B }, { $inc: { n: 1 } }, { projection: { n: 1 }, returnDocument: 'after', lean: true });
      await M.findOneAndReplace({ _id: A }, { sku: 'a', n: 30 }, { projection: { s: 0 } });
      return M.findOneAndDelete({ _id: C }, { projection: { n: 1 } }).lean();
    },
  },
  {
    call: '`findOneAndUpdate()`, `findOneAndDelete()`',
    options: 'a projection of dotted paths or operators (`$slice`)',
    recorded: 'as above; the command is sent as it is and the document read first',
    run: async (M) => {
      await M.findOneAndUpdate({ _id: A }, { $set: { 'spec.size': 9 } }, { projection: { 'spec.color': 1 } });
      return M.findOneAndDelete({ _id: B }, { projection: { tags: { $slice: 1 } } });
    },
  },
  {
    call: '`findOneAndUpdate()`, `findOneAndReplace()`, `findOneAndDelete()`',
    options: '`includeResultMetadata: true`',
    recorded: 'as without it: the document, not the `{ value, lastErrorObject, ok }` reply',
    run: async (M) => {
      await M.findOneAndUpdate({ _id: A }, { $inc: { n: 1 } }, { includeResultMetadata: true });
      await M.findOneAndReplace({ _id: B }, { sku: 'b' }, { includeResultMetadata: true, returnDocument: 'after' });
      return M.findOneAndDelete({ _id: C }, { includeResultMetadata: true });
    },
  },
  {
    call: '`findOneAndUpdate()`, `findOneAndReplace()`',
    options: '`upsert: true`, with or without `includeResultMetadata`, before or after',
    recorded: 'Created when it inserted, Updated otherwise',
    run: async (M) => {
      await M.findOneAndUpdate({ sku: 'd' }, { $set: { n: 4 } }, { upsert: true });
      await M.findOneAndUpdate({ sku: 'e' }, { $set: { n: 5 } }, { upsert: true, includeResultMetadata: true });
      await M.findOneAndUpdate({ sku: 'f' }, { $set: { n: 6 } }, { upsert: true, returnDocument: 'after' });
      return M.findOneAndReplace({ sku: 'a' }, { sku: 'a', n: 7 }, { upsert: true, includeResultMetadata: true });
    },
  },
  {
    call: '`findOneAndDelete()`, `findByIdAndDelete()`',
    options: '`sort`',
    recorded: 'Deleted, with its old state',
    run: async (M) => {
      await M.findOneAndDelete({ n: { $gte: 1 } }, { sort: { n: -1 } });
      return M.findByIdAndDelete(A);
    },
  },
  // bulkWrite()
  {
    call: '`bulkWrite()`',
    options: 'every kind of operation',
    recorded: 'once per document touched: Created, Updated or Deleted, from before the bulk to after it',
    run: (M) =>
      M.bulkWrite([
        { insertOne: { document: { sku: 'd', n: 4 } } },
        { updateOne: { filter: { _id: A }, update: { $set: { s: 'bulk' } } } },
        { updateMany: { filter: { n: { $gte: 2 } }, update: { $inc: { n: 10 } } } },
        { replaceOne: { filter: { _id: C }, replacement: { sku: 'c', n: 0 } } },
        { updateOne: { filter: { sku: 'e' }, update: { $set: { n: 5 } }, upsert: true } },
        { deleteOne: { filter: { _id: B } } },
      ]),
  },
  {
    call: '`bulkWrite()`',
    options: 'several operations on one document, one on a document inserted earlier in the bulk',
    recorded: 'once per document, as the bulk left it',
    run: (M) =>
      M.bulkWrite([
        { updateOne: { filter: { _id: A }, update: { $inc: { n: 1 } } } },
        { updateOne: { filter: { _id: A }, update: { $inc: { n: 1 } } } },
        { insertOne: { document: { sku: 'd', n: 4 } } },
        { updateOne: { filter: { sku: 'd' }, update: { $set: { s: 'later' } } } },
        { updateMany: { filter: { n: { $gte: 3 } }, update: { $set: { status: 'high' } } } },
      ]),
  },
  {
    call: '`bulkWrite()`',
    options: 'ordered, an operation failing midway',
    recorded: 'the operations before it',
    run: (M) =>
      M.bulkWrite([
        { insertOne: { document: { sku: 'd' } } },
        { updateOne: { filter: { _id: B }, update: { $set: { n: 22 } } } },
        { insertOne: { document: { sku: 'a' } } },
        { deleteOne: { filter: { _id: C } } },
      ]),
  },
  {
    call: '`bulkWrite()`',
    options: '`ordered: false`, an operation failing',
    recorded: 'every other operation',
    run: (M) =>
      M.bulkWrite(
        [
          { insertOne: { document: { sku: 'd' } } },
          { updateOne: { filter: { _id: B }, update: { $set: { sku: 'a' } } } },
          { updateOne: { filter: { _id: C }, update: { $set: { n: 33 } } } },
          { deleteOne: { filter: { _id: A } } },
        ],
        { ordered: false },
      ),
  },
  {
    call: '`bulkWrite()`',
    options: 'inserts only, with a duplicate key, ordered or not',
    recorded: 'Created for each insert that ran, as sent (no read)',
    run: async (M) => {
      await M.bulkWrite([
        { insertOne: { document: { sku: 'd' } } },
        { insertOne: { document: { sku: 'a' } } },
        { insertOne: { document: { sku: 'e' } } },
      ]).catch(() => null);
      return M.bulkWrite(
        [{ insertOne: { document: { sku: 'f' } } }, { insertOne: { document: { sku: 'a' } } }, { insertOne: { document: { sku: 'g' } } }],
        {
          ordered: false,
        },
      );
    },
  },
];

// Random write calls, for the property tests: drawn from the table above and from the same calls with random
// arguments, failing ones included.
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

/** One write call of the table or with random arguments, as data (a failing sequence prints as something to read). */
export const writeStep = fc.oneof(
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
export type WriteStep = typeof writeStep extends fc.Arbitrary<infer T> ? T : never;

/** Runs one step on `M`; a failing call rejects as it would in the application. */
export async function performStep(M: ItemModel, s: WriteStep): Promise<unknown> {
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
