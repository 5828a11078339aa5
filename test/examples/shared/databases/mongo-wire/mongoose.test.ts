import { type Connection, Schema } from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { useMongooseConnection } from '../../../../support/mongo-db.js';

/** What the Mongoose plugin stands on: Mongoose 9 working against the run's MongoDB. */
let conn: Connection;
const connect = useMongooseConnection();

const orderSchema = new Schema(
  {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Mongoose types its schema options as a class but takes them as a plain object
    customer: { type: String, required: true },
    total: Number,
    items: [{ sku: String, qty: Number }],
    address: { city: String, zip: String },
  },
  { timestamps: true },
);

beforeAll(async () => {
  conn = await connect();
});

describe('Mongoose 9 on the test MongoDB', () => {
  it('creates, finds, updates and deletes', async () => {
    const Order = conn.model('Order', orderSchema);
    await Order.init();
    const order = await Order.create({ customer: 'Ada', total: 10, items: [{ sku: 'a', qty: 1 }], address: { city: 'Oslo' } });
    order.total = 12;
    order.items.push({ sku: 'b', qty: 2 });
    await order.save();
    expect((await Order.findById(order._id).lean())!.items.map((i) => i.sku)).toEqual(['a', 'b']);
    await Order.updateOne({ _id: order._id }, { $set: { 'address.city': 'Bergen' }, $inc: { total: 1 } });
    const updated = await Order.findOneAndUpdate({ customer: 'Ada' }, { $set: { total: 20 } }, { returnDocument: 'after' });
    expect([updated!.total, updated!.address?.city]).toEqual([20, 'Bergen']);
    await Order.insertMany([{ customer: 'Bo' }, { customer: 'Cy' }]);
    expect(await Order.countDocuments()).toBe(3);
    await Order.updateMany({ customer: { $in: ['Bo', 'Cy'] } }, { $set: { total: 1 } });
    await Order.bulkWrite([
      { updateOne: { filter: { customer: 'Bo' }, update: { $set: { total: 2 } } } },
      { deleteOne: { filter: { customer: 'Cy' } } },
    ]);
    expect((await Order.find().sort({ customer: 1 }).lean()).map((o) => [o.customer, o.total])).toEqual([
      ['Ada', 20],
      ['Bo', 2],
    ]);
    await Order.deleteMany({});
    expect(await Order.countDocuments()).toBe(0);
  });

  it('commits a transaction and aborts another', async () => {
    const Account = conn.model('Account', new Schema({ name: String, balance: Number }));
    await Account.createCollection().catch(() => {});
    const [a, b] = await Account.create([
      { name: 'a', balance: 10 },
      { name: 'b', balance: 0 },
    ]);
    await conn.transaction(async (session) => {
      await Account.updateOne({ _id: a!._id }, { $inc: { balance: -4 } }, { session });
      await Account.updateOne({ _id: b!._id }, { $inc: { balance: 4 } }, { session });
    });
    expect((await Account.find().sort({ name: 1 }).lean()).map((x) => x.balance)).toEqual([6, 4]);
    await expect(
      conn.transaction(async (session) => {
        await Account.updateOne({ _id: a!._id }, { $inc: { balance: -100 } }, { session });
        await Account.create([{ name: 'c', balance: 1 }], { session });
        throw new Error('insufficient funds');
      }),
    ).rejects.toThrow('insufficient funds');
    expect((await Account.find().sort({ name: 1 }).lean()).map((x) => [x.name, x.balance])).toEqual([
      ['a', 6],
      ['b', 4],
    ]);
  });
});
