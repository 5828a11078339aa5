import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { type Connection, Schema } from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createActionLogger, MongoStore, type RequestDocument } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { actionLogPlugin } from 'actionlog/mongoose';
import { Client } from '../../support/client.js';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { all } from '../../support/store-contract.js';

const connect = useMongooseConnection();
let conn: Connection;
beforeAll(async () => {
  conn = await connect();
});

describe('Express + Mongoose', () => {
  it('keeps 2000 concurrent requests apart: each document holds exactly its own changes', async () => {
    // The audit store shares the app's connection; its own writes must never be captured as model changes.
    const store = new MongoStore({ db: conn.db! });
    const logger = createActionLogger({ store, flushIntervalMs: 20 });
    const plugin = actionLogPlugin(logger);
    const Customer = conn.model('Customer', new Schema({ name: String }).plugin(plugin));
    const Order = conn.model('Order', new Schema({ customer: Schema.Types.ObjectId, status: String, total: Number }).plugin(plugin));
    const customer = await Customer.create({ name: 'Ada' });
    const seeded = await Order.insertMany(Array.from({ length: 50 }, (_, i) => ({ customer: customer._id, status: `seed${i}`, total: 0 })));

    const app = express();
    app.use(actionLog(logger));
    app.use(express.json());
    app.post('/orders', async (req, res) => {
      const tag = (req.body as { tag: string }).tag;
      const owner = await Customer.findById(customer._id);
      await sleep(Math.random() * 3);
      const created = await Order.create({ customer: owner!._id, status: tag, total: 1 });
      const loaded = await Order.findById(created._id);
      loaded!.total = 2;
      await loaded!.save();
      await sleep(Math.random() * 3);
      await Order.updateOne({ _id: created._id }, { $inc: { total: 1 } });
      res.status(201).json({ id: String(created._id) });
    });
    app.get('/orders/:id', async (req, res) => {
      const order = await Order.findById(req.params.id);
      await sleep(Math.random() * 3);
      res.json({ status: order?.status });
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 64);

    const n = 2000;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const tag = `t${i}`;
        const reply =
          i % 4 === 3
            ? client.send(`/orders/${String(seeded[i % seeded.length]!._id)}`)
            : client.send('/orders', { method: 'POST', body: { tag } });
        return reply.then((r) => ({ tag, read: i % 4 === 3, r }));
      }),
    );
    client.close();
    server.close();
    expect(replies.filter(({ r }) => r.status >= 300)).toEqual([]);
    await logger.close();

    // The seed data was written outside any request: those changes are documents of their own.
    const stored = await all(store, 'requests', {}, 'desc', 2 * n);
    const docs = new Map<string, RequestDocument>(stored.filter((d) => d.details.request).map((d) => [d.request_uuid, d]));
    expect(docs.size).toBe(n);
    expect(stored.length).toBe(n + 1 + seeded.length);
    for (const { tag, read, r } of replies) {
      const doc = docs.get(r.headers['x-request-id'] as string)!;
      if (read) {
        expect(doc.details.model_logs).toEqual([]);
        continue;
      }
      const { id } = r.json() as { id: string };
      expect(doc.details.request!.body).toEqual({ tag });
      expect(
        doc.details.model_logs.map((l) => [
          l.action,
          l.model,
          l.model_id,
          l.model_details.old_object?.total ?? null,
          l.model_details.new_object!.total,
        ]),
      ).toEqual([
        ['Created', 'orders', id, null, 1],
        ['Updated', 'orders', id, 1, 2],
        ['Updated', 'orders', id, 2, 3],
      ]);
      expect(doc.details.model_logs.every((l) => l.model_details.new_object!.status === tag)).toBe(true);
    }
    expect(await Order.countDocuments({ total: 3 })).toBe(n - n / 4);
  });
});
