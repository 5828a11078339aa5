/**
 * A small Express app on the MemoryStore: it sends itself a few requests (create, update, an explicit
 * action, one bad input) and prints the request documents actionlog stored.
 *
 *   npm run example:express
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ActionLogValidationError, createActionLogger, MemoryStore } from 'actionlog';
import { actionLog } from 'actionlog/express';

const store = new MemoryStore();
const logger = createActionLogger({ store, flushIntervalMs: 50 });

// A stand-in for a database table; an ORM plugin would report these changes by itself.
const orders = new Map<string, Record<string, unknown>>();
let nextId = 1;

const app = express();
app.use(actionLog(logger));
app.use(express.json());
app.use((req, _res, next) => {
  // What an auth middleware does: actionlog reads req.user when the request ends.
  const name = req.get('x-user');
  if (name) (req as { user?: unknown }).user = { id: name, name, email: `${name}@shop.test` };
  next();
});

app.post('/orders', (req, res) => {
  const order = { _id: String(nextId++), ...(req.body as Record<string, unknown>), status: 'new' };
  orders.set(order._id, order);
  logger.recordModelChange({
    action: 'Created',
    model: 'orders',
    model_class_name: 'Order',
    model_namespace: 'shop.orders',
    model_id: order._id,
    old_object: null,
    new_object: { ...order },
  });
  res.status(201).json(order);
});

app.patch('/orders/:id', (req, res) => {
  const before = orders.get(req.params.id);
  if (!before) return void res.status(404).json({ error: 'no such order' });
  const after = { ...before, ...(req.body as Record<string, unknown>) };
  orders.set(req.params.id, after);
  logger.recordModelChange({
    action: 'Updated',
    model: 'orders',
    model_class_name: 'Order',
    model_namespace: 'shop.orders',
    model_id: req.params.id,
    old_object: { ...before },
    new_object: { ...after },
  });
  res.json(after);
});

app.post('/orders/:id/approve', (req, res) => {
  try {
    // The body is unchecked input: record() validates it and throws ActionLogValidationError on a bad note.
    const { note } = req.body as { note?: string };
    logger.record({ action: { type: 'approve', category: 'orders' }, target: { type: 'order', id: req.params.id }, note });
    res.json({ approved: req.params.id });
  } catch (error) {
    if (!(error instanceof ActionLogValidationError)) throw error;
    res.status(400).json({ error: error.message, issues: error.issues });
  }
});

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function send(method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', 'x-user': 'ada', authorization: 'Bearer not-for-the-log' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  console.log(`${method} ${path} -> ${res.status} ${await res.text()}`);
}

await send('POST', '/orders', { customer: 'Acme', total: 42, card_number: '4111 1111 1111 1111' });
await send('PATCH', '/orders/1', { status: 'paid', total: 45 });
await send('POST', '/orders/1/approve', { note: 'checked by phone' });
await send('POST', '/orders/1/approve', { note: 12 });

server.close();
await logger.close();
console.log('\nStored request documents:');
console.log(JSON.stringify(store.requests(), null, 2));
console.log(`\nstats: ${JSON.stringify(logger.stats())}`);
