/**
 * A small shop API (customers, orders) on Express + Mongoose, audited by the Mongoose plugin into MongoDB on
 * the app's own connection. It sends itself a few requests and prints the request documents, read back
 * from MongoDB. It uses `MONGODB_URI` when set; otherwise the project's test MongoDB (see README, Tests).
 *
 *   npm run example:express-mongoose
 */
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import mongoose, { Schema } from 'mongoose';
import { ActionLogError, createActionLogger, MongoStore } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { actionLogPlugin, type StampedDocument } from 'actionlog/mongoose';
import { startMongo } from '../shared/databases/mongodb.js';

const mongo = await startMongo();
console.log(`MongoDB: ${mongo.description}`);
await mongoose.connect(mongo.uri, { dbName: 'shop_example' });
await mongoose.connection.dropDatabase();

const store = new MongoStore({ connection: mongoose.connection });
const logger = createActionLogger({ store, flushIntervalMs: 50 });
// Registered before any model is compiled: every schema is audited, with no per-model code.
mongoose.plugin(actionLogPlugin(logger, { omit: { Customer: ['passwordHash'] } }));

const Customer = mongoose.model('Customer', new Schema({ name: String, email: String, passwordHash: String }, { timestamps: true }));
const orderSchema = new Schema(
  {
    customer: { type: Schema.Types.ObjectId, ref: 'Customer' },
    status: { type: String, default: 'new' },
    items: [{ sku: String, qty: Number, price: Number }],
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Mongoose types its schema options as a class but takes them as a plain object
    total: { type: Number, default: 0 },
  },
  { timestamps: true, actionLog: { stamps: true } },
);
const Order = mongoose.model('Order', orderSchema);
type OrderDoc = InstanceType<typeof Order> & StampedDocument;

const users: Record<string, { id: string; name: string; email: string }> = {
  ada: { id: 'u-ada', name: 'Ada', email: 'ada@shop.test' },
  bo: { id: 'u-bo', name: 'Bo', email: 'bo@shop.test' },
};

const app = express();
app.use(actionLog(logger));
app.use(express.json());
app.use((req, _res, next) => {
  // What an auth middleware does: actionlog reads req.user.
  (req as { user?: unknown }).user = users[req.get('x-user') ?? ''];
  next();
});

const notFound = (what: string) => Object.assign(new Error(`no such ${what}`), { status: 404 });
const found = async (id: string) => (await Order.findById<OrderDoc>(id)) ?? Promise.reject(notFound('order'));

app.post('/customers', async (req, res) => {
  res.status(201).json(await Customer.create(req.body as { name: string; email: string; passwordHash: string }));
});
app.post('/orders', async (req, res) => {
  const body = req.body as { customer: string; items: Array<{ sku: string; qty: number; price: number }> };
  const total = body.items.reduce((sum, i) => sum + i.qty * i.price, 0);
  res.status(201).json(await Order.create({ ...body, total }));
});
app.patch('/orders/:id/items/:index', async (req, res) => {
  const order = await found(req.params.id);
  const item = order.items[Number(req.params.index)];
  if (!item) throw notFound('item');
  item.qty = (req.body as { qty: number }).qty;
  order.total = order.items.reduce((sum, i) => sum + (i.qty ?? 0) * (i.price ?? 0), 0);
  res.json(await order.save());
});
app.post('/orders/:id/pay', async (req, res) => {
  res.json(await Order.findByIdAndUpdate(req.params.id, { $set: { status: 'paid' } }, { returnDocument: 'after' }));
});
app.post('/orders/:id/approval', async (req, res) => {
  res.json(await (await found(req.params.id)).requestApproval({ to: users[(req.body as { to: string }).to] }));
});
app.post('/orders/:id/approve', async (req, res) => {
  res.json(await (await found(req.params.id)).approve());
});
app.delete('/orders/:id', async (req, res) => {
  res.json(await (await found(req.params.id)).softDelete((req.body as { reason?: string } | undefined)?.reason));
});
app.post('/customers/:id/close', async (req, res) => {
  // One transaction: the customer's open orders are cancelled and the customer renamed, or nothing is.
  await mongoose.connection.transaction(async (session) => {
    await Order.updateMany({ customer: req.params.id, status: 'new' }, { $set: { status: 'cancelled' } }, { session });
    await Customer.updateOne({ _id: req.params.id }, { $set: { name: '(closed)' } }, { session });
  });
  res.json({ closed: req.params.id });
});
app.get('/orders/export', async (_req, res) => {
  const orders = await Order.find().lean();
  logger.record({ action: { type: 'export', category: 'orders' }, note: `${orders.length} orders as CSV` });
  res.type('text/csv').send(orders.map((o) => `${o._id.toString()},${o.status},${o.total}`).join('\n'));
});
app.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
  res.status(error.status ?? (error instanceof ActionLogError ? 409 : 500)).json({ error: error.message });
});

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function send(user: string, method: string, path: string, body?: unknown): Promise<{ _id: string }> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', 'x-user': user, authorization: 'Bearer not-for-the-log' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  console.log(`${user}: ${method} ${path} -> ${res.status} ${text.slice(0, 100)}${text.length > 100 ? '...' : ''}`);
  return res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as { _id: string }) : { _id: '' };
}

const acme = await send('ada', 'POST', '/customers', { name: 'Acme', email: 'buyer@acme.test', passwordHash: 'secret-hash' });
const first = await send('ada', 'POST', '/orders', {
  customer: acme._id,
  items: [
    { sku: 'tea', qty: 2, price: 4 },
    { sku: 'mug', qty: 1, price: 9 },
  ],
});
const second = await send('ada', 'POST', '/orders', { customer: acme._id, items: [{ sku: 'pot', qty: 1, price: 30 }] });
await send('ada', 'PATCH', `/orders/${first._id}/items/0`, { qty: 3 });
await send('ada', 'POST', `/orders/${first._id}/approval`, { to: 'bo' });
await send('ada', 'POST', `/orders/${first._id}/approve`); // refused: only Bo may approve
await send('bo', 'POST', `/orders/${first._id}/approve`);
await send('bo', 'POST', `/orders/${first._id}/pay`);
await send('ada', 'POST', `/customers/${acme._id}/close`);
await send('bo', 'DELETE', `/orders/${second._id}`, { reason: 'cancelled with the account' });
await send('bo', 'GET', '/orders/export');

server.close();
await logger.flush();
const { items: documents } = await logger.query({ kind: 'requests' }, { order: 'asc', limit: 100 });
console.log('\nStored request documents:');
console.log(JSON.stringify(documents, null, 2));
console.log('\nIn short, one line per request document:');
for (const doc of documents) {
  const { request, response, model_logs, actions } = doc.details;
  const changes = model_logs.map(
    (l) => `${l.action} ${l.model_class_name}${l.action === 'Created' ? '' : ` [${l.model_details.changed_fields.join(', ')}]`}`,
  );
  const acts = actions.map((a) => `action ${a.action_type}`);
  const who = `${request?.user_details?.label ?? '-'} ${request?.method} ${request?.route} ${response?.status_code}`;
  console.log(`  ${who}: ${[...changes, ...acts].join('; ') || 'nothing changed'}`);
}
console.log(`\nstats: ${JSON.stringify(logger.stats())}`);
await logger.close();
await mongoose.disconnect();
await mongo.stop();
