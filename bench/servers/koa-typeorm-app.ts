/**
 * The endpoint the TypeORM benchmark drives, written against whatever `typeorm` the caller loaded:
 * POST /orders saves a new order, then updates it with repository.update().
 */
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Server } from 'node:http';
import Koa from 'koa';

interface Repository {
  save(entity: object): Promise<{ id: string | number }>;
  create(values: object): object;
  update(criteria: object, values: object): Promise<unknown>;
}

export async function serveOrders(orders: Repository, wrap?: (app: Koa) => void): Promise<Server> {
  const app = new Koa();
  app.silent = true;
  wrap?.(app);
  app.use(async (ctx) => {
    if (ctx.method !== 'POST' || ctx.path !== '/orders') return;
    const order = await orders.save(orders.create({ status: 'new', total: 1, customer: 'c-17' }));
    await orders.update({ id: order.id }, { status: 'paid', total: 2 });
    ctx.status = 201;
    ctx.body = { id: order.id };
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  console.log(`PORT ${(server.address() as AddressInfo).port}`);
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  return server;
}

/** Connection options for the benchmark database of this process (BENCH_DB=sqlite|postgres, PG_URL). */
export function databaseOptions(): { type: 'better-sqlite3'; database: string } | { type: 'postgres'; url: string; poolSize: number } {
  if (process.env.BENCH_DB === 'postgres') return { type: 'postgres', url: process.env.PG_URL!, poolSize: 10 };
  return { type: 'better-sqlite3', database: ':memory:' };
}
