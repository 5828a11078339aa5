/**
 * The Express + Mongoose endpoint every Mongoose bench server runs, whatever audits it. It takes the
 * Mongoose module to use, so a peer library runs on the Mongoose version it supports.
 *
 *   POST /orders       findById + save() + updateOne() on a random seeded order (measured for throughput)
 *   POST /orders/save  findById + save() only (to count what a save() costs in database commands)
 *   POST /orders/create  one create() of a new order (the soak's cheapest write)
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import type { Mongoose, Schema } from 'mongoose';
import { reportUsage } from '../support.js';

const SEEDED = 1000;

export interface OrdersApp {
  /** Adds the audit library's plugins to the schema before the model is compiled. */
  plugin?: (schema: Schema) => void;
  /** Runs first on every request (the audit library's middleware). */
  middleware?: RequestHandler;
  /** What a library needs passed along with each write (a user it cannot find on its own). */
  beforeSave?: (doc: Record<string, unknown>) => void;
  updateOptions?: () => Record<string, unknown>;
}

/** Connects, sets up the audit (`audit` runs once connected), seeds, serves, and prints `PORT <n>` for the runner. */
export async function serveOrders(mongoose: Mongoose, audit: () => OrdersApp = () => ({})): Promise<Server> {
  const commands = new Map<string, number>();
  await mongoose.connect(process.env.MONGODB_URI!, { dbName: `bench_${process.env.BENCH_MODE}_${process.pid}`, monitorCommands: true });
  mongoose.connection.getClient().on('commandStarted', (e: { commandName: string }) => {
    commands.set(e.commandName, (commands.get(e.commandName) ?? 0) + 1);
  });

  const app = audit();
  const schema = new mongoose.Schema(
    { customer: String, status: String, total: Number, items: [{ sku: String, qty: Number }] },
    { timestamps: true },
  );
  app.plugin?.(schema);
  const Order = mongoose.model('Order', schema);
  await Order.init();
  const seeded = await Order.insertMany(
    Array.from({ length: SEEDED }, (_, i) => ({ customer: `c${i % 50}`, status: 'new', total: 10, items: [{ sku: 'tea', qty: 1 }] })),
  );
  commands.clear();
  const ids = seeded.map((o) => o._id);
  const pick = () => ids[Math.floor(Math.random() * ids.length)];

  const web = express();
  if (app.middleware) web.use(app.middleware);
  web.use(express.json());
  const loadAndSave = async () => {
    const order = (await Order.findById(pick()))!;
    order.status = order.status === 'new' ? 'paid' : 'new';
    order.items[0]!.qty = (order.items[0]!.qty ?? 0) + 1;
    app.beforeSave?.(order as never);
    await order.save();
    return order;
  };
  web.post('/orders', async (_req, res) => {
    const order = await loadAndSave();
    await Order.updateOne({ _id: order._id }, { $inc: { total: 1 } }, app.updateOptions?.());
    res.json({ id: order._id });
  });
  web.post('/orders/save', async (_req, res) => {
    res.json({ id: (await loadAndSave())._id });
  });
  web.post('/orders/create', async (_req, res) => {
    const order = await Order.create({ customer: 'c-17', status: 'new', total: 10, items: [{ sku: 'tea', qty: 1 }] });
    res.json({ id: order._id });
  });

  const server = web.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  reportUsage(server, () => Object.fromEntries(commands));
  console.log(`PORT ${(server.address() as AddressInfo).port}`);
  return server;
}
