/** Koa + TypeORM 1.x endpoint, without audit (baseline) or with actionlog writing to its SqlStore in the same database. */
import 'reflect-metadata';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { createActionLogger, MemoryStore, SqlStore } from 'actionlog';
import { actionLog } from 'actionlog/koa';
import { ActionLogSubscriber, actionLogEntities } from 'actionlog/typeorm';
import { reportUsage } from '../support.js';
import { databaseOptions, serveOrders } from './koa-typeorm-app.js';

@Entity('orders')
class Order {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column({ type: 'varchar' })
  status!: string;
  @Column({ type: 'integer' })
  total!: number;
  @Column({ type: 'varchar' })
  customer!: string;
}

const audited = process.env.BENCH_MODE?.startsWith('actionlog') === true;
const options = databaseOptions();
const dataSource = await new DataSource({
  ...options,
  entities: [Order, ...(audited ? actionLogEntities(options.type) : [])],
  synchronize: true,
}).initialize();

let logger: ReturnType<typeof createActionLogger> | undefined;
if (audited) {
  const store = process.env.BENCH_MODE === 'actionlog-memory' ? new MemoryStore() : new SqlStore({ dataSource });
  logger = createActionLogger({ store });
  dataSource.subscribers.push(
    new ActionLogSubscriber(logger, { queryWrites: process.env.BENCH_MODE === 'actionlog-read-before' ? 'readBefore' : 'auto' }),
  );
}
const server = await serveOrders(dataSource.getRepository(Order), (app) => {
  if (logger) app.use(actionLog(logger));
});
reportUsage(server);
