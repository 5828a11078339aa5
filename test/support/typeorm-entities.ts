import 'reflect-metadata';
import {
  ChildEntity,
  Column,
  CreateDateColumn,
  DeleteDateColumn,
  Entity,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  TableInheritance,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

@Entity('customers')
export class Customer {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  name!: string;

  @Column({ type: 'varchar', nullable: true })
  apiToken?: string | null;
}

export class Address {
  @Column({ type: 'varchar', nullable: true })
  city?: string | null;

  @Column({ type: 'varchar', nullable: true })
  zip?: string | null;
}

@Entity('orders')
export class Order {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', default: 'new' })
  status!: string;

  @Column({ type: 'integer', default: 0 })
  total!: number;

  @Column(() => Address)
  address!: Address;

  @Column({ type: 'simple-json', nullable: true })
  notes?: { lines: string[]; meta?: Record<string, unknown> } | null;

  @Column({
    type: 'varchar',
    default: '',
    transformer: {
      to: (v?: string[]) => (v ?? []).join(','),
      from: (v?: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' && v ? v.split(',') : []),
    },
  })
  tags!: string[];

  @Column({ type: 'date', nullable: true })
  dueDate?: string | null;

  @ManyToOne(() => Customer, { nullable: true })
  customer?: Customer | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;

  @VersionColumn()
  version!: number;
}

@Entity('order_lines')
export class OrderLine {
  @PrimaryColumn({ type: 'integer' })
  orderId!: number;

  @PrimaryColumn({ type: 'integer' })
  lineNo!: number;

  @Column({ type: 'varchar' })
  sku!: string;

  @Column({ type: 'integer' })
  qty!: number;
}

@Entity('tickets')
export class Ticket {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  title!: string;

  @DeleteDateColumn({ nullable: true })
  deletedAt?: Date | null;
}

@Entity('products')
export class Product {
  @PrimaryColumn({ type: 'varchar' })
  sku!: string;

  @Column({ type: 'varchar' })
  name!: string;

  @Column({ type: 'integer' })
  price!: number;
}

@Entity('contents')
@TableInheritance({ column: { type: 'varchar', name: 'kind' } })
export class Content {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  title!: string;
}

@ChildEntity('article')
export class Article extends Content {
  @Column({ type: 'varchar', nullable: true })
  body?: string | null;
}

export const TEST_ENTITIES = [Customer, Order, OrderLine, Ticket, Product, Content, Article];
