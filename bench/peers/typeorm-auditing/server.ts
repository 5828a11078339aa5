/** The same endpoint on TypeORM 0.3 (what typeorm-auditing supports): no audit (baseline-0.3) or typeorm-auditing. */
import 'reflect-metadata';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { AuditingAction, AuditingEntity, AuditingEntityDefaultColumns, AuditingSubscriber } from 'typeorm-auditing';
import { reportUsage } from '../../support.js';
import { databaseOptions, serveOrders } from '../../servers/koa-typeorm-app.js';

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

@AuditingEntity(Order)
class AuditingOrder extends Order implements AuditingEntityDefaultColumns {
  readonly _seq!: number;
  readonly _action!: AuditingAction;
  readonly _modifiedAt!: Date;
}

const audited = process.env.BENCH_MODE === 'typeorm-auditing';
const dataSource = await new DataSource({
  ...databaseOptions(),
  entities: audited ? [Order, AuditingOrder] : [Order],
  subscribers: audited ? [AuditingSubscriber] : [],
  synchronize: true,
} as ConstructorParameters<typeof DataSource>[0]).initialize();

const server = await serveOrders(dataSource.getRepository(Order));
reportUsage(server);
