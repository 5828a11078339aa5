import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Module, Post } from '@nestjs/common';
import { getConnectionToken, InjectModel, MongooseModule } from '@nestjs/mongoose';
import mongoose, { type Connection, type Model, Schema } from 'mongoose';
import { describe, expect, it } from 'vitest';
import { ActionLogConfigError, ActionLogger, MongoStore } from 'actionlog';
import { ActionLogModule } from 'actionlog/nestjs';
import { freshDatabaseName, mongoUri } from '../../support/mongo-db.js';
import { NEST_PLATFORMS, type RunningNestApp, startNest } from '../../support/nest.js';
import { all } from '../../support/store-contract.js';

interface Order {
  status: string;
  total: number;
}

// One schema for every application of the file, as a Nest app defines it once: the applications run one after
// the other, and each one's writes must land in its own logger.
const orderSchema = new Schema<Order>({ status: String, total: Number });

@Controller('orders')
class OrdersController {
  constructor(@InjectModel('Order') private readonly orders: Model<Order>) {}

  @Post()
  async create(@Body() body: { tag: string }): Promise<{ id: string }> {
    await sleep(Math.random() * 3);
    const created = await this.orders.create({ status: body.tag, total: 1 });
    const loaded = (await this.orders.findById(created._id))!;
    loaded.total = 2;
    await loaded.save();
    await sleep(Math.random() * 3);
    await this.orders.updateOne({ _id: created._id }, { $inc: { total: 1 } });
    return { id: String(created._id) };
  }
}

/** The audit store shares the application's connection: the logger is built after the connection opens. */
function appModule(schema: Schema = orderSchema, options: object = {}) {
  @Module({
    imports: [
      ActionLogModule.forRootAsync({
        inject: [getConnectionToken()],
        useFactory: (conn: Connection) => ({ store: new MongoStore({ db: conn.db! }), flushIntervalMs: 20 }),
        ...options,
      }),
      MongooseModule.forRoot(mongoUri(), { dbName: freshDatabaseName(), serverSelectionTimeoutMS: 10_000 }),
      MongooseModule.forFeature([{ name: 'Order', schema }]),
    ],
    controllers: [OrdersController],
  })
  class AppModule {}
  return AppModule;
}

async function closeAndDrop(nest: RunningNestApp): Promise<void> {
  const conn = nest.app.get<Connection>(getConnectionToken());
  await conn.dropDatabase();
  await nest.close();
}

describe('NestJS + Mongoose', () => {
  it.each(NEST_PLATFORMS)('keeps %s requests apart: 500 concurrent, each document holds exactly its own changes', async (platform) => {
    const nest = await startNest(appModule(), platform);
    const n = 500;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        nest.client.send('/orders', { method: 'POST', body: { tag: `t${String(i)}` } }).then((r) => ({ tag: `t${String(i)}`, r })),
      ),
    );
    expect(replies.filter(({ r }) => r.status !== 201)).toEqual([]);
    await nest.app.get(ActionLogger).flush();

    const store = new MongoStore({ db: nest.app.get<Connection>(getConnectionToken()).db! });
    const docs = new Map((await all(store, 'requests', {}, 'desc', 2 * n)).map((d) => [d.request_uuid, d]));
    expect(docs.size).toBe(n);
    for (const { tag, r } of replies) {
      const { id } = r.json() as { id: string };
      const doc = docs.get(r.headers['x-request-id'] as string)!;
      expect(doc.details.request).toMatchObject({ method: 'POST', route: '/orders', body: { tag } });
      expect(
        doc.details.model_logs.map((l) => [l.action, l.model_id, l.model_details.new_object!.status, l.model_details.new_object!.total]),
      ).toEqual([
        ['Created', id, tag, 1],
        ['Updated', id, tag, 2],
        ['Updated', id, tag, 3],
      ]);
    }
    await closeAndDrop(nest);
  });

  it('refuses to start when a model of the connection was compiled without the plugin', async () => {
    // A schema that had a model before the application: Mongoose has already applied its plugins to it.
    const early = new Schema<Order>({ status: String, total: Number });
    const scratch = mongoose.createConnection();
    scratch.model('Early', early);
    const error: unknown = await startNest(appModule(early), 'express').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionLogConfigError);
    expect((error as Error).message).toMatch(
      /models compiled without the plugin: Order \(their schema had a model before this application was created/,
    );
    await scratch.close();

    // The failed application gave the models up: the next one starts.
    const nest = await startNest(appModule(), 'fastify');
    const reply = await nest.client.send('/orders', { method: 'POST', body: { tag: 'after' } });
    expect(reply.status).toBe(201);
    await closeAndDrop(nest);
  });

  it('refuses a connection that is not there', async () => {
    const error: unknown = await startNest(appModule(orderSchema, { mongoose: { connections: ['reports'] } }), 'express').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ActionLogConfigError);
    expect((error as ActionLogConfigError).issues).toEqual([
      { path: 'mongoose.connections', message: 'no @nestjs/mongoose connection provides reportsConnection' },
    ]);
  });
});
