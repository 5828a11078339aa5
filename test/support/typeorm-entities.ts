import 'reflect-metadata';
import {
  BeforeUpdate,
  Check,
  ChildEntity,
  Column,
  CreateDateColumn,
  DeleteDateColumn,
  Entity,
  ManyToOne,
  OneToMany,
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

/** A parent saved with its children through cascades; a listener counts its edits. */
@Entity('baskets')
export class Basket {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  label!: string;

  @Column({ type: 'integer', default: 0 })
  edits?: number;

  @UpdateDateColumn()
  updatedAt!: Date;

  @VersionColumn()
  version!: number;

  // Children dropped from the array have their foreign key set to NULL (TypeORM's default orphan action).
  @OneToMany(() => BasketItem, (item) => item.basket, { cascade: true })
  items?: BasketItem[];

  // Children dropped from the array are deleted.
  @OneToMany(() => BasketNote, (note) => note.basket, { cascade: true })
  notes?: BasketNote[];

  // Children dropped from the array are soft-deleted.
  @OneToMany(() => BasketCoupon, (coupon) => coupon.basket, { cascade: true })
  coupons?: BasketCoupon[];

  @BeforeUpdate()
  countEdit(): void {
    this.edits = (this.edits ?? 0) + 1;
  }
}

/** A child row with a unique, a check constraint, a JSON column and soft delete. */
@Entity('basket_items')
@Check('"qty" >= 0')
export class BasketItem {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', unique: true })
  sku!: string;

  @Column({ type: 'integer', default: 1 })
  qty!: number;

  @Column({ type: 'jsonb', nullable: true })
  meta?: { tags: string[]; size?: number } | null;

  @DeleteDateColumn({ nullable: true })
  deletedAt?: Date | null;

  @ManyToOne(() => Basket, (basket) => basket.items, { nullable: true, onDelete: 'SET NULL' })
  basket?: Basket | null;
}

@Entity('basket_notes')
export class BasketNote {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  text!: string;

  @ManyToOne(() => Basket, (basket) => basket.notes, { orphanedRowAction: 'delete', onDelete: 'CASCADE' })
  basket?: Basket;
}

@Entity('basket_coupons')
export class BasketCoupon {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  code!: string;

  @DeleteDateColumn({ nullable: true })
  deletedAt?: Date | null;

  @ManyToOne(() => Basket, (basket) => basket.coupons, { orphanedRowAction: 'soft-delete', onDelete: 'CASCADE' })
  basket?: Basket;
}

/** A write-only digest column: the app never reads its stored form back through TypeORM, so `from` refuses. */
@Entity('sealed_notes')
export class SealedNote {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  title!: string;

  @Column({
    type: 'varchar',
    transformer: {
      to: (v?: string) => `sha:${v ?? ''}`,
      from: () => {
        throw new Error('digest is write-only');
      },
    },
  })
  digest!: string;
}

export const TEST_ENTITIES = [Customer, Order, OrderLine, Ticket, Product, Content, Article, Basket, BasketItem, BasketNote, BasketCoupon];
