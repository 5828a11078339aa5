import { randomUUID } from 'node:crypto';
import mongoose, { type Connection, Schema, Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ActionLogConfigError, createActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { actionLogPlugin } from 'actionlog/mongoose';
import { freshDatabaseName, mongoUri, useMongooseConnection } from '../../support/mongo-db.js';
import { logsOf as logsOfRun } from '../../support/logs.js';
import { anyDate, anyString } from '../../support/matchers.js';
import { all } from '../../support/store-contract.js';

const store = new MemoryStore();
const logger = createActionLogger({ store, flushIntervalMs: 0 });
const connect = useMongooseConnection({ monitorCommands: true });
let conn: Connection;
const commands: string[] = [];

const orderSchema = new Schema(
  {
    customer: { type: Schema.Types.ObjectId, ref: 'Customer' },
    status: { type: String, default: 'new' },
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Mongoose types its schema options as a class but takes them as a plain object
    total: { type: Number, default: 0 },
    items: [{ sku: String, qty: Number }],
    address: { city: String, zip: String },
    tags: [String],
    internalNote: String,
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Mongoose types its schema options as a class but takes them as a plain object
    code: { type: String, unique: true, sparse: true },
  },
  { timestamps: true, actionLog: { omit: ['internalNote'] } },
);
orderSchema.plugin(actionLogPlugin(logger, { maxDocumentsPerQuery: 5 }));

const customerSchema = new Schema({ name: String, apiToken: String });
customerSchema.plugin(actionLogPlugin(logger));

const eventSchema = new Schema({ at: Date, label: String }, { discriminatorKey: 'kind' });
eventSchema.plugin(actionLogPlugin(logger));

const skippedSchema = new Schema({ name: String }, { actionLog: false });
skippedSchema.plugin(actionLogPlugin(logger));

/** The models, compiled on the run's connection; their types come from the schemas. */
function compile(c: Connection) {
  const Order = c.model('Order', orderSchema);
  const Customer = c.model('Customer', customerSchema);
  const Event = c.model('Event', eventSchema);
  const Click = Event.discriminator('Click', new Schema({ button: String }));
  const Skipped = c.model('Skipped', skippedSchema);
  return { Order, Customer, Event, Click, Skipped };
}
type Models = ReturnType<typeof compile>;
let Order: Models['Order'];
let Customer: Models['Customer'];
let Event: Models['Event'];
let Click: Models['Click'];
let Skipped: Models['Skipped'];

beforeAll(async () => {
  conn = await connect();
  conn.getClient().on('commandStarted', (e) => commands.push(e.commandName));
  ({ Order, Customer, Event, Click, Skipped } = compile(conn));
  await Promise.all([Order.init(), Customer.init(), Event.init(), Skipped.init()]);
});
afterAll(async () => {
  await logger.close();
});
beforeEach(async () => {
  await Promise.all([Order.collection.deleteMany({}), Customer.collection.deleteMany({}), Event.collection.deleteMany({})]);
});

/** Runs `fn` as one request and returns its model logs. */
const logsOf = (fn: () => Promise<unknown>) => logsOfRun(logger, store, fn);

const brief = (logs: ModelLog[]) => logs.map((l) => [l.action, l.model_class_name, l.model_id]);
const id = (doc: { _id: unknown }) => String(doc._id);
const seed = (values: Record<string, unknown> = {}) =>
  Order.create({ status: 'new', total: 10, items: [{ sku: 'a', qty: 1 }], address: { city: 'Oslo' }, ...values });

describe('mongoose plugin', () => {
  it('refuses bad options and bad schema options with typed errors', () => {
    expect(() => actionLogPlugin(logger, { maxDocumentsPerQuery: 0 })).toThrow(ActionLogConfigError);
    expect(() => actionLogPlugin({} as never)).toThrow(/logger/);
    expect(() => new Schema({ a: String }, { actionLog: { skp: true } } as never).plugin(actionLogPlugin(logger))).toThrow(/actionLog/);
  });

  describe('document writes', () => {
    it('records doc.save() of a new document and Model.create as Created, with the stored object', async () => {
      const customer = new Types.ObjectId();
      const logs = await logsOf(async () => {
        await new Order({ customer, total: 5, items: [{ sku: 'x', qty: 2 }], tags: ['gift'] }).save();
        await Order.create({ total: 7 });
      });
      expect(logs.map((l) => l.action)).toEqual(['Created', 'Created']);
      const [first] = logs;
      expect(first).toMatchObject({ model: 'orders', model_class_name: 'Order', model_namespace: `${conn.name}.orders` });
      expect(first!.model_details.old_object).toBeNull();
      expect(first!.model_details.new_object).toEqual({
        _id: first!.model_id,
        customer: String(customer),
        status: 'new',
        total: 5,
        items: [{ _id: anyString, sku: 'x', qty: 2 }],
        tags: ['gift'],
        createdAt: anyDate,
        updatedAt: anyDate,
        __v: 0,
      });
    });

    it('records save() of a loaded document as Updated with the old state, and reads nothing to get it', async () => {
      const order = await seed({ tags: ['a', 'b'] });
      const loaded = (await Order.findById(order._id))!;
      commands.length = 0;
      const logs = await logsOf(async () => {
        loaded.status = 'paid';
        loaded.address!.city = 'Bergen';
        loaded.items.push({ sku: 'b', qty: 3 });
        loaded.items[0]!.qty = 4;
        // Mongoose types an array of strings as a plain array; it is a Mongoose array, with pull().
        (loaded.tags as string[] & Pick<Types.Array<string>, 'pull'>).pull('a');
        await loaded.save();
      });
      expect(commands.filter((c) => c === 'find' || c === 'aggregate')).toEqual([]);
      expect(brief(logs)).toEqual([['Updated', 'Order', id(order)]]);
      const { old_object, new_object, changed_fields } = logs[0]!.model_details;
      expect(old_object).toMatchObject({ status: 'new', address: { city: 'Oslo' }, items: [{ sku: 'a', qty: 1 }], tags: ['a', 'b'] });
      expect(new_object).toMatchObject({
        status: 'paid',
        address: { city: 'Bergen' },
        items: [
          { sku: 'a', qty: 4 },
          { sku: 'b', qty: 3 },
        ],
        tags: ['b'],
      });
      expect(changed_fields).toEqual(
        expect.arrayContaining(['status', 'address.city', 'items.0.qty', 'items.1', 'tags.0', 'tags.1', 'updatedAt']),
      );
      // Removing from an array bumps the version key: old and new objects each hold their own.
      const stored = (await Order.findById(order._id).lean())!;
      expect(stored.__v).toBe(1);
      expect([old_object!.__v, new_object!.__v]).toEqual([0, 1]);
    });

    it('reads the old state of a document that was not loaded (built by hand, then saved)', async () => {
      const order = await seed({ status: 'stored' });
      // Mongoose's documented way to save an existing document it did not load.
      const byHand = new Order({ _id: order._id });
      byHand.isNew = false;
      byHand.unmarkModified('_id');
      const logs = await logsOf(async () => {
        byHand.status = 'shipped';
        await byHand.save();
      });
      expect(brief(logs)).toEqual([['Updated', 'Order', id(order)]]);
      expect(logs[0]!.model_details.old_object).toMatchObject({ status: 'stored', address: { city: 'Oslo' } });
      expect(logs[0]!.model_details.new_object).toMatchObject({ status: 'shipped' });
    });

    it('records nothing for a save() that changes nothing, and nothing for a document only read', async () => {
      const order = await seed();
      const logs = await logsOf(async () => {
        const loaded = (await Order.findById(order._id))!;
        await loaded.save();
        await Order.find({});
      });
      expect(logs).toEqual([]);
    });

    it('records insertMany as one Created per document', async () => {
      const logs = await logsOf(() => Order.insertMany([{ total: 1 }, { total: 2 }, { total: 3 }]));
      expect(logs.map((l) => [l.action, l.model_details.new_object?.total])).toEqual([
        ['Created', 1],
        ['Created', 2],
        ['Created', 3],
      ]);
    });

    it('records doc.updateOne() and doc.deleteOne()', async () => {
      const order = await seed();
      const logs = await logsOf(async () => {
        const loaded = (await Order.findById(order._id))!;
        await loaded.updateOne({ $set: { status: 'held' } });
        await loaded.deleteOne();
      });
      expect(brief(logs)).toEqual([
        ['Updated', 'Order', id(order)],
        ['Deleted', 'Order', id(order)],
      ]);
      expect(logs[0]!.model_details.new_object).toMatchObject({ status: 'held' });
      expect(logs[1]!.model_details.old_object).toMatchObject({ status: 'held' });
    });
  });

  describe('query writes', () => {
    it('records updateOne for the one document it wrote, not every match', async () => {
      const a = await seed({ total: 1 });
      await seed({ total: 2 });
      const logs = await logsOf(() => Order.updateOne({ status: 'new' }, { $inc: { total: 5 } }));
      expect(brief(logs)).toEqual([['Updated', 'Order', id(a)]]);
      expect(logs[0]!.model_details.old_object!.total).toBe(1);
      expect(logs[0]!.model_details.new_object!.total).toBe(6);
      expect(logs[0]!.model_details.changed_fields).toEqual(['total', 'updatedAt']);
    });

    it('records updateMany per changed document, and nothing for a no-op or unmatched update', async () => {
      const a = await seed({ total: 1 });
      const b = await seed({ total: 2 });
      await seed({ status: 'paid', total: 3 });
      const logs = await logsOf(() => Order.updateMany({ status: 'new' }, { $set: { status: 'packed' }, $push: { tags: 'batch' } }));
      expect(brief(logs)).toEqual([
        ['Updated', 'Order', id(a)],
        ['Updated', 'Order', id(b)],
      ]);
      expect(logs[1]!.model_details.new_object).toMatchObject({ status: 'packed', tags: ['batch'], total: 2 });
      expect(await logsOf(() => Order.updateMany({ status: 'nope' }, { $set: { total: 0 } }))).toEqual([]);
      const noop = await logsOf(() => Order.updateOne({ _id: a._id }, { $set: { status: 'packed' } }, { timestamps: false }));
      expect(noop).toEqual([]);
    });

    it('tells an upsert that inserted from one that updated, from the server result', async () => {
      const inserted = await logsOf(() => Order.updateOne({ code: 'X1' }, { $set: { total: 9 } }, { upsert: true }));
      expect(
        inserted.map((l) => [l.action, l.model_details.old_object, l.model_details.new_object?.code, l.model_details.new_object?.total]),
      ).toEqual([['Created', null, 'X1', 9]]);
      const updated = await logsOf(() => Order.updateOne({ code: 'X1' }, { $set: { total: 10 } }, { upsert: true }));
      expect(updated.map((l) => [l.action, l.model_details.old_object?.total, l.model_details.new_object?.total])).toEqual([
        ['Updated', 9, 10],
      ]);
    });

    it('records findOneAndUpdate and findByIdAndUpdate exactly, before or after, sorted, and upserted', async () => {
      const low = await seed({ total: 1 });
      const high = await seed({ total: 9 });
      const logs = await logsOf(async () => {
        await Order.findOneAndUpdate({ status: 'new' }, { $set: { status: 'top' } }, { sort: { total: -1 } });
        await Order.findByIdAndUpdate(low._id, { $inc: { total: 1 } }, { returnDocument: 'after' });
        await Order.findOneAndUpdate({ code: 'NEW' }, { $set: { total: 3 } }, { upsert: true });
        await Order.findOneAndUpdate({ code: 'NEW2' }, { $set: { total: 4 } }, { upsert: true, returnDocument: 'after' });
      });
      expect(logs.map((l) => [l.action, l.model_details.old_object?.total ?? null, l.model_details.new_object?.total])).toEqual([
        ['Updated', 9, 9],
        ['Updated', 1, 2],
        ['Created', null, 3],
        ['Created', null, 4],
      ]);
      expect(logs[0]!.model_id).toBe(id(high));
      expect(logs[0]!.model_details.changed_fields).toEqual(['status', 'updatedAt']);
    });

    it('records replaceOne and findOneAndReplace with the whole replacement', async () => {
      const a = await seed();
      const b = await seed();
      const logs = await logsOf(async () => {
        await Order.replaceOne({ _id: a._id }, { status: 'replaced', total: 1 });
        await Order.findOneAndReplace({ _id: b._id }, { status: 'replaced-too', total: 2 });
      });
      expect(brief(logs)).toEqual([
        ['Updated', 'Order', id(a)],
        ['Updated', 'Order', id(b)],
      ]);
      expect(logs[0]!.model_details.new_object).toMatchObject({ _id: id(a), status: 'replaced', total: 1 });
      expect(logs[0]!.model_details.new_object).not.toHaveProperty('address');
      expect(logs[0]!.model_details.changed_fields).toEqual(expect.arrayContaining(['status', 'total', 'address']));
    });

    it('records deleteOne, deleteMany, findOneAndDelete and findByIdAndDelete', async () => {
      const [a, b, c, d, e] = await Promise.all([
        seed({ total: 1 }),
        seed({ total: 1 }),
        seed({ total: 2 }),
        seed({ total: 3 }),
        seed({ total: 4 }),
      ]);
      const logs = await logsOf(async () => {
        await Order.deleteOne({ _id: a._id });
        await Order.deleteMany({ total: { $in: [1, 2] } });
        await Order.findOneAndDelete({ total: 3 });
        await Order.findByIdAndDelete(e._id).exec();
      });
      expect(logs.map((l) => l.action)).toEqual(['Deleted', 'Deleted', 'Deleted', 'Deleted', 'Deleted']);
      expect(logs.map((l) => l.model_id).sort()).toEqual([a, b, c, d, e].map((x) => id(x)).sort());
      expect(logs.every((l) => l.model_details.new_object === null && l.model_details.old_object !== null)).toBe(true);
    });

    it('reads back the new state of pipeline updates', async () => {
      const a = await seed({ total: 5 });
      const logs = await logsOf(() =>
        Order.updateOne({ _id: a._id }, [{ $set: { total: { $multiply: ['$total', 3] } } }], { updatePipeline: true }),
      );
      expect(logs[0]!.model_details.new_object!.total).toBe(15);
    });

    it('records a summary entry past maxDocumentsPerQuery', async () => {
      await Order.insertMany(Array.from({ length: 7 }, (_, i) => ({ total: i })));
      const logs = await logsOf(() => Order.updateMany({}, { $set: { status: 'bulk' } }));
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ action: 'Updated', model_id: null, truncated: true, model_details: { query: { matched: 7 } } });
    });

    it('records bulkWrite once per document touched, from its state before the bulk to its state after', async () => {
      const a = await seed({ total: 1 });
      const b = await seed({ total: 2 });
      const c = await seed({ total: 3 });
      const logs = await logsOf(() =>
        Order.bulkWrite([
          { insertOne: { document: { total: 100 } } },
          { updateOne: { filter: { _id: a._id }, update: { $set: { status: 'one' } } } },
          { updateMany: { filter: { total: { $gte: 2, $lte: 3 } }, update: { $inc: { total: 10 } } } },
          { replaceOne: { filter: { _id: c._id }, replacement: { status: 'replaced', total: 0 } as never } },
          { updateOne: { filter: { code: 'UP' }, update: { $set: { total: 7 } }, upsert: true } },
          { deleteOne: { filter: { _id: b._id } } },
        ]),
      );
      // b was updated, then deleted; c updated, then replaced: each is recorded once, as the bulk left it.
      expect(logs.map((l) => [l.action, l.model_details.old_object?.total ?? null, l.model_details.new_object?.total ?? null])).toEqual([
        ['Created', null, 100],
        ['Updated', 1, 1],
        ['Deleted', 2, null],
        ['Updated', 3, 0],
        ['Created', null, 7],
      ]);
      expect(logs.slice(1, 4).map((l) => l.model_id)).toEqual([id(a), id(b), id(c)]);
    });

    it('records the same with .exec() as with await', async () => {
      const a = await seed();
      const logs = await logsOf(() => Order.updateOne({ _id: a._id }, { $set: { status: 'exec' } }).exec());
      expect(brief(logs)).toEqual([['Updated', 'Order', id(a)]]);
    });
  });

  describe('what is stored', () => {
    it('names a discriminator by its own model, also when the query ran on the base model', async () => {
      const logs = await logsOf(async () => {
        const click = await Click.create({ label: 'buy', button: 'b1' });
        await Event.updateOne({ _id: click._id }, { $set: { label: 'bought' } });
      });
      expect(logs.map((l) => [l.action, l.model_class_name, l.model])).toEqual([
        ['Created', 'Click', 'events'],
        ['Updated', 'Click', 'events'],
      ]);
    });

    it('leaves omitted fields out (not even read), redacts secrets, and records nothing for a skipped schema', async () => {
      const projections: unknown[] = [];
      const onCommand = (e: {
        commandName: string;
        command: { find?: string; projection?: unknown; findAndModify?: string; fields?: unknown };
      }) => {
        if (e.command.find === 'orders') projections.push(e.command.projection);
        if (e.command.findAndModify === 'orders') projections.push(e.command.fields);
      };
      conn.getClient().on('commandStarted', onCommand);
      const logs = await logsOf(async () => {
        const order = await Order.create({ total: 1, internalNote: 'do not log' });
        await Order.updateOne({ _id: order._id }, { $set: { total: 2 } });
        await Order.updateMany({ _id: order._id }, { $set: { total: 3 } });
        await Customer.create({ name: 'Ada', apiToken: 'tok-1' });
        await Skipped.create({ name: 'x' });
      });
      conn.getClient().off('commandStarted', onCommand);
      expect(brief(logs).map((b) => b[1])).toEqual(['Order', 'Order', 'Order', 'Customer']);
      expect(logs[0]!.model_details.new_object).not.toHaveProperty('internalNote');
      expect(logs[1]!.model_details.old_object).not.toHaveProperty('internalNote');
      expect(logs[3]!.model_details.new_object).toMatchObject({ apiToken: '[REDACTED]' });
      expect(projections).toEqual([{ internalNote: 0 }, { internalNote: 0 }]);
    });

    it('records nothing for a write that changes only omitted fields, and never stores them', async () => {
      const order = await Order.create({ total: 1, internalNote: 'a' });
      let result: unknown;
      const logs = await logsOf(async () => {
        result = await Order.updateOne({ _id: order._id }, { $set: { internalNote: 'b' } }, { timestamps: false });
        await Order.updateOne({ _id: order._id }, { $set: { internalNote: 'c', total: 2 } });
      });
      expect(result).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
      expect(logs).toHaveLength(1);
      expect(logs[0]!.model_details.changed_fields).toEqual(['total', 'updatedAt']);
      // Only its name is kept, to say the stored objects are not whole (see stateAt); never a value.
      expect(logs[0]!.model_details.omitted).toEqual(['internalNote']);
      expect(logs[0]!.model_details.old_object).not.toHaveProperty('internalNote');
      expect(logs[0]!.model_details.new_object).not.toHaveProperty('internalNote');
    });

    it('records only the models include names, and none of those exclude names', async () => {
      const only = actionLogPlugin(logger, { include: ['Kept'] });
      const allBut = actionLogPlugin(logger, { exclude: ['Dropped2'] });
      const models = [
        conn.model('Kept', new Schema({ n: Number }).plugin(only)),
        conn.model('Dropped', new Schema({ n: Number }).plugin(only)),
        conn.model('Kept2', new Schema({ n: Number }).plugin(allBut)),
        conn.model('Dropped2', new Schema({ n: Number }).plugin(allBut)),
      ];
      const logs = await logsOf(async () => {
        for (const M of models) {
          const doc = await M.create({ n: 1 });
          await M.updateOne({ _id: doc._id }, { $inc: { n: 1 } });
        }
      });
      expect(logs.map((l) => [l.action, l.model_class_name])).toEqual([
        ['Created', 'Kept'],
        ['Updated', 'Kept'],
        ['Created', 'Kept2'],
        ['Updated', 'Kept2'],
      ]);
    });

    it('records nothing for a write that fails', async () => {
      await Order.create({ code: 'DUP' });
      const logs = await logsOf(async () => {
        await expect(Order.create({ code: 'DUP' })).rejects.toThrow();
        await expect(Order.updateOne({}, { $set: { total: 'not a number' } })).rejects.toThrow();
      });
      expect(logs).toEqual([]);
    });
  });
});

describe('mongoose plugin: updateOne, replaceOne and deleteOne', () => {
  // Without timestamps, so a write can leave a document exactly as it was.
  const paths = { status: String, total: Number };
  const schemaOf = () => new Schema(paths);
  const compile = (name: string, schema: ReturnType<typeof schemaOf>) => conn.model(name, schema);
  type SingleModel = ReturnType<typeof compile>;
  let models: Record<'findAndModify' | 'readBefore' | 'unaudited', SingleModel>;
  const a = new Types.ObjectId();
  const b = new Types.ObjectId();
  const fresh = new Types.ObjectId();

  beforeAll(async () => {
    const audited = (mode: 'findAndModify' | 'readBefore') => schemaOf().plugin(actionLogPlugin(logger, { singleDocumentWrites: mode }));
    models = {
      findAndModify: compile('SingleFam', audited('findAndModify')),
      readBefore: compile('SingleRead', audited('readBefore')),
      unaudited: compile('SinglePlain', schemaOf()),
    };
  });

  const scenarios: Array<[string, (M: SingleModel) => Promise<unknown>]> = [
    ['an update that changes the first match', (M) => M.updateOne({ status: 'new' }, { $inc: { total: 5 } })],
    ['an update that changes nothing', (M) => M.updateOne({ _id: a }, { $set: { status: 'new' } })],
    ['an update that matches nothing', (M) => M.updateOne({ total: 99 }, { $set: { status: 'x' } })],
    ['an upsert that inserts', (M) => M.updateOne({ _id: fresh }, { $set: { total: 5 } }, { upsert: true })],
    ['an upsert that updates', (M) => M.updateOne({ _id: a }, { $set: { total: 5 } }, { upsert: true })],
    ['a pipeline update', (M) => M.updateOne({ _id: a }, [{ $set: { total: { $add: ['$total', 1] } } }], { updatePipeline: true })],
    ['a replacement', (M) => M.replaceOne({ _id: b }, { status: 'replaced', total: 3 })],
    ['a replacement by the same document', (M) => M.replaceOne({ _id: a }, { status: 'new', total: 1 })],
    ['a replacement that upserts', (M) => M.replaceOne({ _id: fresh }, { total: 7 }, { upsert: true })],
    ['a delete', (M) => M.deleteOne({ total: 2 })],
    ['a delete that matches nothing', (M) => M.deleteOne({ total: 99 })],
  ];

  async function run(M: SingleModel, scenario: (M: SingleModel) => Promise<unknown>) {
    await M.collection.deleteMany({});
    await M.collection.insertMany([
      { _id: a, status: 'new', total: 1, __v: 0 },
      { _id: b, status: 'new', total: 2, __v: 0 },
    ]);
    let result: unknown;
    const logs = await logsOf(async () => {
      result = await scenario(M);
    });
    const stored = await M.collection.find({}, { sort: { _id: 1 } }).toArray();
    return {
      result,
      stored,
      logs: logs.map((l) => [l.action, l.model_id, l.model_details.old_object, l.model_details.new_object, l.model_details.changed_fields]),
    };
  }

  it.each(scenarios)('answers %s exactly as MongoDB answers the command, and records the same in both modes', async (_name, scenario) => {
    const unaudited = await run(models.unaudited, scenario);
    const fam = await run(models.findAndModify, scenario);
    const readBefore = await run(models.readBefore, scenario);
    expect(fam.result).toEqual(unaudited.result);
    expect(fam.stored).toEqual(unaudited.stored);
    expect(unaudited.logs).toEqual([]);
    expect(fam.logs).toEqual(readBefore.logs);
  });

  it('records what each write did', async () => {
    const actions: unknown[] = [];
    for (const [, scenario] of scenarios) actions.push((await run(models.findAndModify, scenario)).logs.map((l) => [l[0], l[1]]));
    expect(actions).toEqual([
      [['Updated', String(a)]],
      [],
      [],
      [['Created', String(fresh)]],
      [['Updated', String(a)]],
      [['Updated', String(a)]],
      [['Updated', String(b)]],
      [],
      [['Created', String(fresh)]],
      [['Deleted', String(b)]],
      [],
    ]);
  });

  it('sends one findAndModify in place of the read and the write, or reads first when asked to', async () => {
    const sent = async (M: SingleModel, write: () => Promise<unknown>) => {
      commands.length = 0;
      await logsOf(write);
      return commands.filter((c) => c !== 'insert');
    };
    await run(models.findAndModify, async () => {});
    expect(await sent(models.findAndModify, () => models.findAndModify.updateOne({ _id: a }, { $inc: { total: 1 } }))).toEqual([
      'findAndModify',
    ]);
    expect(await sent(models.findAndModify, () => models.findAndModify.deleteOne({ _id: a }))).toEqual(['findAndModify']);
    await run(models.readBefore, async () => {});
    expect(await sent(models.readBefore, () => models.readBefore.updateOne({ _id: a }, { $inc: { total: 1 } }))).toEqual([
      'find',
      'update',
    ]);
  });

  it('sends an unacknowledged write as it is and records nothing: the server answers nothing to learn what it applied', async () => {
    const M = models.findAndModify;
    await run(M, async () => {});
    commands.length = 0;
    let result: unknown;
    const logs = await logsOf(async () => {
      result = await M.updateOne({ _id: a }, { $inc: { total: 1 } }, { writeConcern: { w: 0 } });
    });
    expect(result).toMatchObject({ acknowledged: false });
    expect(commands.filter((c) => c !== 'insert')).toEqual(['update']);
    expect(logs).toEqual([]);
  });

  it('refuses an unknown singleDocumentWrites mode', () => {
    expect(() => actionLogPlugin(logger, { singleDocumentWrites: 'guess' as never })).toThrow(ActionLogConfigError);
  });
});

describe('mongoose plugin registered globally', () => {
  it('reaches every schema, and records subdocument changes once, with their top document', async () => {
    const errors: unknown[] = [];
    const globalStore = new MemoryStore();
    const globalLogger = createActionLogger({ store: globalStore, flushIntervalMs: 0, onError: (e) => errors.push(e) });
    const instance = new mongoose.Mongoose();
    instance.plugin(actionLogPlugin(globalLogger));
    const line = new Schema({ sku: String, qty: Number });
    const Cart = instance.model('Cart', new Schema({ lines: [line], shipping: new Schema({ city: String }), note: String }));
    const own = await instance.connect(mongoUri(), { dbName: freshDatabaseName(), serverSelectionTimeoutMS: 10_000 });
    try {
      const requestUuid = randomUUID();
      await globalLogger.run({ requestUuid }, async () => {
        const cart = await Cart.create({ lines: [{ sku: 'a', qty: 1 }], shipping: { city: 'Oslo' } });
        const loaded = (await Cart.findById(cart._id))!;
        loaded.lines[0]!.qty = 2;
        loaded.lines.push({ sku: 'b', qty: 1 });
        loaded.shipping!.city = 'Bergen';
        await loaded.save();
      });
      await globalLogger.flush();
      const [doc] = await all(globalStore, 'requests', { request_uuid: requestUuid });
      expect(doc!.details.model_logs.map((l) => [l.action, l.model_class_name])).toEqual([
        ['Created', 'Cart'],
        ['Updated', 'Cart'],
      ]);
      expect(doc!.details.model_logs[1]!.model_details.changed_fields).toEqual(
        expect.arrayContaining(['lines.0.qty', 'lines.1', 'shipping.city']),
      );
      expect(doc!.details.model_logs[1]!.model_details.old_object).toMatchObject({
        lines: [{ sku: 'a', qty: 1 }],
        shipping: { city: 'Oslo' },
      });
      expect(errors).toEqual([]);
    } finally {
      await own.connection.dropDatabase().catch(() => {});
      await instance.disconnect();
      await globalLogger.close();
    }
  });
});
