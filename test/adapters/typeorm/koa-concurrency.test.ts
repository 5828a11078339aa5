import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { createActionLogger, MemoryStore } from 'actionlog';
import { actionLog } from 'actionlog/koa';
import { ActionLogSubscriber } from 'actionlog/typeorm';
import { Client } from '../../support/client.js';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { Order, TEST_ENTITIES } from '../../support/typeorm-entities.js';

const opened: SqlDatabase[] = [];
afterAll(async () => {
  for (const db of opened) await db.drop();
});

describe.each(SQL_KINDS)('Koa + TypeORM on %s', (kind) => {
  it('keeps 2000 concurrent requests apart: each document holds exactly its own changes', async () => {
    const db = await openDatabase(kind, { entities: TEST_ENTITIES });
    opened.push(db);
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 20 });
    db.dataSource.subscribers.push(new ActionLogSubscriber(logger));
    const orders = db.dataSource.getRepository(Order);

    const app = new Koa();
    app.silent = true;
    app.use(actionLog(logger));
    app.use(bodyParser());
    const router = new Router();
    router.post('/orders', async (ctx) => {
      const tag = (ctx.request.body as { tag: string }).tag;
      await sleep(Math.random() * 3);
      const order = await orders.save(orders.create({ status: tag, total: 1, address: { city: tag }, tags: [tag] }));
      await sleep(Math.random() * 3);
      await orders.update({ id: order.id }, { total: () => 'total + 1' });
      ctx.status = 201;
      ctx.body = { id: order.id };
    });
    app.use(router.routes());
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 64);

    const n = 2000;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.send('/orders', { method: 'POST', body: { tag: `t${i}` } }).then((r) => ({ tag: `t${i}`, r })),
      ),
    );
    client.close();
    server.close();
    expect(replies.filter(({ r }) => r.status !== 201)).toEqual([]);
    await logger.close();

    const docs = new Map(store.requests().map((d) => [d.request_uuid, d]));
    expect(docs.size).toBe(n);
    for (const { tag, r } of replies) {
      const id = String((r.json() as { id: number }).id);
      const doc = docs.get(r.headers['x-request-id'] as string)!;
      expect(doc.details.request!.body).toEqual({ tag });
      expect(doc.details.model_logs.map((l) => [l.action, l.model_id, l.model_details.new_object!.status])).toEqual([
        ['Created', id, tag],
        ['Updated', id, tag],
      ]);
      expect(doc.details.model_logs[1]!.model_details.new_object!.total).toBe(2);
    }
    expect(await orders.count()).toBe(n);
  });
});
