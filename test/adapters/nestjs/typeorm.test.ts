import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Module, Post } from '@nestjs/common';
import { getDataSourceToken, InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type Repository } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { ActionLogConfigError, ActionLogger, type RequestDocument, SqlStore } from 'actionlog';
import { ActionLogModule, type ActionLogModuleAsyncOptions } from 'actionlog/nestjs';
import { ActionLogSubscriber, actionLogEntities } from 'actionlog/typeorm';
import { NEST_PLATFORMS, startNest } from '../../support/nest.js';
import { all } from '../../support/store-contract.js';
import { openDatabase, SQL_KINDS, type SqlDatabase, type SqlKind } from '../../support/sql.js';
import { Order, TEST_ENTITIES } from '../../support/typeorm-entities.js';

const opened: SqlDatabase[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'actionlog-nest-'));
afterAll(async () => {
  for (const db of opened) await db.drop();
  rmSync(scratch, { recursive: true, force: true });
});

const typeOf = (kind: SqlKind) => (kind === 'sqlite' ? 'better-sqlite3' : 'postgres');

/** A fresh database with the test entities and the audit tables; SQLite in a file when it must outlive the app. */
async function database(kind: SqlKind, file = false): Promise<SqlDatabase> {
  const entities = [...TEST_ENTITIES, ...actionLogEntities(typeOf(kind))];
  if (kind === 'postgres' || !file) {
    const db = await openDatabase(kind, { entities });
    opened.push(db);
    return db;
  }
  const dataSource = new DataSource({
    type: 'better-sqlite3',
    database: join(scratch, `${String(opened.length)}-${String(Date.now())}.db`),
    entities,
    synchronize: true,
  });
  await dataSource.initialize();
  const db = { dataSource, drop: async () => (dataSource.isInitialized ? dataSource.destroy() : undefined) };
  opened.push(db);
  return db;
}

/** The same database, opened again after the application destroyed its data source. */
async function reopen(db: SqlDatabase): Promise<SqlStore> {
  const dataSource = new DataSource({ ...db.dataSource.options, synchronize: false });
  await dataSource.initialize();
  opened.push({ dataSource, drop: async () => (dataSource.isInitialized ? dataSource.destroy() : undefined) });
  return new SqlStore({ dataSource });
}

@Controller('orders')
class OrdersController {
  constructor(@InjectRepository(Order) private readonly orders: Repository<Order>) {}

  @Post()
  async create(@Body() body: { tag: string }): Promise<{ id: number }> {
    await sleep(Math.random() * 3);
    const order = await this.orders.save(this.orders.create({ status: body.tag, total: 1, address: { city: body.tag }, tags: [body.tag] }));
    await sleep(Math.random() * 3);
    await this.orders.update({ id: order.id }, { total: () => 'total + 1' });
    return { id: order.id };
  }
}

/**
 * An application whose data source @nestjs/typeorm owns (it destroys it on close), with the audit store on the same
 * data source. ActionLogModule comes first in `imports`: the queue must still drain before the data source closes.
 */
function appModule(db: SqlDatabase, logger: Partial<ReturnType<ActionLogModuleAsyncOptions['useFactory']>> = {}, typeorm?: object) {
  @Module({
    imports: [
      ActionLogModule.forRootAsync({
        inject: [getDataSourceToken()],
        useFactory: (dataSource: DataSource) => ({ store: new SqlStore({ dataSource }), flushIntervalMs: 20, ...logger }),
        ...(typeorm ? { typeorm } : {}),
      }),
      TypeOrmModule.forRootAsync({ useFactory: () => db.dataSource.options, dataSourceFactory: () => Promise.resolve(db.dataSource) }),
      TypeOrmModule.forFeature([Order]),
    ],
    controllers: [OrdersController],
  })
  class AppModule {}
  return AppModule;
}

const n = 500;

describe.each(SQL_KINDS)('NestJS + TypeORM on %s', (kind) => {
  it.each(NEST_PLATFORMS)('keeps %s requests apart: 500 concurrent, each document holds exactly its own changes', async (platform) => {
    const db = await database(kind);
    const nest = await startNest(appModule(db), platform);
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        nest.client.send('/orders', { method: 'POST', body: { tag: `t${String(i)}` } }).then((r) => ({ tag: `t${String(i)}`, r })),
      ),
    );
    expect(replies.filter(({ r }) => r.status !== 201)).toEqual([]);
    await nest.app.get(ActionLogger).flush();

    const docs = new Map(
      (await all(new SqlStore({ dataSource: db.dataSource }), 'requests', {}, 'desc', 2 * n)).map((d) => [d.request_uuid, d]),
    );
    expect(docs.size).toBe(n);
    for (const { tag, r } of replies) {
      const id = String((r.json() as { id: number }).id);
      const doc = docs.get(r.headers['x-request-id'] as string)!;
      expect(doc.module).toBe('orders');
      expect(doc.details.request).toMatchObject({ method: 'POST', route: '/orders', body: { tag } });
      expect(doc.details.model_logs.map((l) => [l.action, l.model_id, l.model_details.new_object!.status])).toEqual([
        ['Created', id, tag],
        ['Updated', id, tag],
      ]);
      expect(doc.details.model_logs[1]!.model_details.new_object!.total).toBe(2);
    }
    await nest.close();
  });

  it.each(NEST_PLATFORMS)('app.close() on %s drains the queue before @nestjs/typeorm destroys the data source', async (platform) => {
    const db = await database(kind, true);
    // Nothing is written before close: the writer waits for a full batch, or a minute.
    const nest = await startNest(appModule(db, { flushIntervalMs: 60_000, batchSize: 1000 }), platform);
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => nest.client.send('/orders', { method: 'POST', body: { tag: `c${String(i)}` } })),
    );
    expect(replies.every((r) => r.status === 201)).toBe(true);
    const logger = nest.app.get(ActionLogger);
    expect(logger.stats()).toMatchObject({ stored: 0 });

    await nest.close();
    expect(db.dataSource.isInitialized).toBe(false);
    expect(logger.stats()).toMatchObject({ recorded: 40, stored: 40, queued: 0, dropped: 0 });
    const stored: RequestDocument[] = await all(await reopen(db), 'requests', {}, 'desc', 100);
    expect(new Set(stored.map((d) => d.request_uuid))).toEqual(new Set(replies.map((r) => r.headers['x-request-id'])));
    expect(stored.every((d) => d.details.model_logs.length === 2)).toBe(true);
  });
});

describe('NestJS + TypeORM registration', () => {
  it('refuses a data source that already has an ActionLogSubscriber, and a data source that is not there', async () => {
    const db = await database('sqlite');
    db.dataSource.subscribers.push(new ActionLogSubscriber(new ActionLogger({ store: new SqlStore({ dataSource: db.dataSource }) })));
    await expect(startNest(appModule(db), 'express')).rejects.toThrow(
      /already has an ActionLogSubscriber: remove it, or set typeorm: false/,
    );

    const other = await database('sqlite');
    const error: unknown = await startNest(appModule(other, {}, { dataSources: ['reports'] }), 'express').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionLogConfigError);
    expect((error as ActionLogConfigError).issues).toEqual([
      { path: 'typeorm.dataSources', message: 'no @nestjs/typeorm data source named reports' },
    ]);
  });
});
