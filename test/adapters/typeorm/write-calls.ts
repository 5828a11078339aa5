import fc from 'fast-check';
import { type EntityManager, In } from 'typeorm';
import { Basket, BasketItem } from '../../support/typeorm-entities.js';

/*
 * Write calls of TypeORM over the basket model, as data (so that fast-check prints and shrinks them), drawn from
 * the whole table of calls the README lists, failing ones included: unique and check constraint violations,
 * inside and outside transactions, and transactions that roll back.
 */

const SKUS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const;
type Sku = (typeof SKUS)[number];
type Meta = { tags: string[]; size?: number } | null;
interface ItemSpec {
  sku: Sku;
  qty: number;
  meta: Meta;
}

export type Op =
  | { op: 'saveNew'; rows: ItemSpec[]; reload: boolean; transaction: boolean }
  | { op: 'saveLoaded'; sku: Sku; qty: number | null; tag: string | null; reload: boolean }
  | { op: 'saveMixed'; fresh: ItemSpec; sku: Sku; qty: number }
  | { op: 'saveTwice'; sku: Sku; first: number; second: number }
  | { op: 'insert'; rows: ItemSpec[] }
  | { op: 'insertNoReload'; rows: ItemSpec[] }
  | { op: 'insertIgnore'; rows: ItemSpec[] }
  | { op: 'upsert'; rows: ItemSpec[]; skipUnchanged: boolean }
  | { op: 'update'; whereQty: number; qty: number | null; meta: Meta }
  | { op: 'addToQty'; skus: Sku[]; delta: number }
  | { op: 'updateReturning'; whereQty: number; qty: number }
  | { op: 'increment'; sku: Sku; by: number }
  | { op: 'delete'; sku: Sku | null; qty: number }
  | { op: 'softDelete'; whereQty: number }
  | { op: 'restore'; skus: Sku[] }
  | { op: 'remove' | 'softRemove' | 'recover'; sku: Sku }
  | { op: 'newBasket'; rows: ItemSpec[]; transaction: boolean }
  | {
      op: 'reshapeBasket';
      dropItem: boolean;
      add: ItemSpec | null;
      qty: number | null;
      dropNote: boolean;
      label: string | null;
      reload: boolean;
    };

export type Call = { kind: 'call'; op: Op } | { kind: 'transaction'; ops: Op[]; end: 'commit' | 'rollback' };

const sku = fc.constantFrom(...SKUS);
// Mostly valid; -1 breaks the check constraint (qty >= 0), a taken sku the unique one.
const qty = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constant(-1) });
const meta: fc.Arbitrary<Meta> = fc.option(
  fc.record(
    { tags: fc.subarray(['x', 'y', 'z']), size: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) },
    { requiredKeys: ['tags'] },
  ),
  { nil: null },
);
const item: fc.Arbitrary<ItemSpec> = fc.record({ sku, qty, meta });
const items = fc.array(item, { minLength: 1, maxLength: 3 });

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('saveNew' as const), rows: items, reload: fc.boolean(), transaction: fc.boolean() }),
  fc.record({
    op: fc.constant('saveLoaded' as const),
    sku,
    qty: fc.option(qty, { nil: null }),
    tag: fc.option(fc.constantFrom('x', 'y', 'w'), { nil: null }),
    reload: fc.boolean(),
  }),
  fc.record({ op: fc.constant('saveMixed' as const), fresh: item, sku, qty }),
  fc.record({ op: fc.constant('saveTwice' as const), sku, first: qty, second: qty }),
  fc.record({ op: fc.constant('insert' as const), rows: items }),
  fc.record({ op: fc.constant('insertNoReload' as const), rows: items }),
  fc.record({ op: fc.constant('insertIgnore' as const), rows: items }),
  fc.record({ op: fc.constant('upsert' as const), rows: items, skipUnchanged: fc.boolean() }),
  fc.record({ op: fc.constant('update' as const), whereQty: qty, qty: fc.option(qty, { nil: null }), meta }),
  fc.record({
    op: fc.constant('addToQty' as const),
    skus: fc.subarray([...SKUS], { minLength: 1 }),
    delta: fc.integer({ min: -3, max: 3 }),
  }),
  fc.record({ op: fc.constant('updateReturning' as const), whereQty: qty, qty }),
  fc.record({ op: fc.constant('increment' as const), sku, by: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ op: fc.constant('delete' as const), sku: fc.option(sku, { nil: null }), qty }),
  fc.record({ op: fc.constant('softDelete' as const), whereQty: qty }),
  fc.record({ op: fc.constant('restore' as const), skus: fc.subarray([...SKUS], { minLength: 1 }) }),
  fc.record({ op: fc.constantFrom('remove' as const, 'softRemove' as const, 'recover' as const), sku }),
  fc.record({ op: fc.constant('newBasket' as const), rows: items, transaction: fc.boolean() }),
  fc.record({
    op: fc.constant('reshapeBasket' as const),
    dropItem: fc.boolean(),
    add: fc.option(item, { nil: null }),
    qty: fc.option(qty, { nil: null }),
    dropNote: fc.boolean(),
    label: fc.option(fc.constantFrom('home', 'work'), { nil: null }),
    reload: fc.boolean(),
  }),
);

/** One call: a write on its own, or a transaction of a few that commits or rolls back. */
export const call: fc.Arbitrary<Call> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('call' as const), op }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('transaction' as const),
      ops: fc.array(op, { minLength: 1, maxLength: 3 }),
      end: fc.constantFrom('commit' as const, 'rollback' as const),
    }),
  },
);

const create = (m: EntityManager, spec: ItemSpec) => m.create(BasketItem, { ...spec });

/** The first basket, with its children (the live ones, as TypeORM loads relations). */
const firstBasket = (m: EntityManager) => m.findOne(Basket, { where: {}, relations: { items: true, notes: true }, order: { id: 'ASC' } });

/** Runs one write; a write the database refuses throws, as it would in the app. */
export async function runOp(m: EntityManager, o: Op): Promise<unknown> {
  switch (o.op) {
    case 'saveNew':
      return m.save(
        o.rows.map((r) => create(m, r)),
        { reload: o.reload, transaction: o.transaction },
      );
    case 'saveLoaded': {
      const loaded = await m.findOneBy(BasketItem, { sku: o.sku });
      if (!loaded) return;
      if (o.qty !== null) loaded.qty = o.qty;
      // Mutated in place, as an app does with a JSON column.
      if (o.tag !== null) {
        if (loaded.meta) loaded.meta.tags.push(o.tag);
        else loaded.meta = { tags: [o.tag] };
      }
      return m.save(loaded, { reload: o.reload });
    }
    case 'saveMixed': {
      const loaded = await m.findOneBy(BasketItem, { sku: o.sku });
      if (loaded) loaded.qty = o.qty;
      return m.save(loaded ? [create(m, o.fresh), loaded] : [create(m, o.fresh)]);
    }
    case 'saveTwice': {
      const first = await m.findOneBy(BasketItem, { sku: o.sku });
      const second = await m.findOneBy(BasketItem, { sku: o.sku });
      if (!first || !second) return;
      first.qty = o.first;
      second.qty = o.second;
      return m.save([first, second]);
    }
    case 'insert':
      return m.insert(BasketItem, o.rows);
    case 'insertNoReload':
      return m.createQueryBuilder().insert().into(BasketItem).values(o.rows).updateEntity(false).execute();
    case 'insertIgnore':
      return m.createQueryBuilder().insert().into(BasketItem).values(o.rows).orIgnore().execute();
    case 'upsert':
      return m.upsert(BasketItem, o.rows, { conflictPaths: ['sku'], skipUpdateIfNoValuesChanged: o.skipUnchanged });
    case 'update':
      return m.update(BasketItem, { qty: o.whereQty }, o.qty === null ? { meta: o.meta } : { qty: o.qty, meta: o.meta });
    case 'addToQty':
      return m
        .createQueryBuilder()
        .update(BasketItem)
        .set({ qty: () => `qty + ${String(o.delta)}` })
        .where({ sku: In(o.skus) })
        .execute();
    case 'updateReturning':
      // SQLite refuses RETURNING when the statement is built: nothing runs.
      return m.createQueryBuilder().update(BasketItem).set({ qty: o.qty }).where({ qty: o.whereQty }).returning(['sku', 'qty']).execute();
    case 'increment':
      return o.by >= 0 ? m.increment(BasketItem, { sku: o.sku }, 'qty', o.by) : m.decrement(BasketItem, { sku: o.sku }, 'qty', -o.by);
    case 'delete':
      return m.delete(BasketItem, o.sku === null ? { qty: o.qty } : { sku: o.sku });
    case 'softDelete':
      return m.softDelete(BasketItem, { qty: o.whereQty });
    case 'restore':
      return m.restore(BasketItem, { sku: In(o.skus) });
    case 'remove':
    case 'softRemove':
    case 'recover': {
      const loaded = await m.findOne(BasketItem, { where: { sku: o.sku }, withDeleted: o.op === 'recover' });
      if (!loaded) return;
      return o.op === 'remove' ? m.remove(loaded) : o.op === 'softRemove' ? m.softRemove(loaded) : m.recover(loaded);
    }
    case 'newBasket':
      return m.save(m.create(Basket, { label: 'new', items: o.rows, notes: [{ text: 'n' }] }), { transaction: o.transaction });
    case 'reshapeBasket':
      return reshapeBasket(m, o);
  }
}

async function reshapeBasket(m: EntityManager, o: Extract<Op, { op: 'reshapeBasket' }>): Promise<unknown> {
  const basket = await firstBasket(m);
  if (!basket) return;
  const children = basket.items ?? [];
  if (o.dropItem) children.shift();
  if (o.qty !== null && children[0]) children[0].qty = o.qty;
  if (o.add) children.push(create(m, o.add));
  basket.items = children;
  if (o.dropNote) basket.notes = (basket.notes ?? []).slice(1);
  if (o.label !== null) basket.label = o.label;
  return m.save(basket, { reload: o.reload });
}

/** Runs a call; failures the database answers are part of the sequence (the app catches them and goes on). */
export async function runCall(manager: EntityManager, c: Call): Promise<void> {
  if (c.kind === 'call') {
    await runOp(manager, c.op).catch(() => {});
    return;
  }
  await manager
    .transaction(async (m) => {
      for (const o of c.ops) await runOp(m, o).catch(() => {});
      if (c.end === 'rollback') throw new Error('roll back');
    })
    .catch(() => {});
}

/** The rows every sequence starts from: a basket with two items and two notes, and an item of no basket. */
export async function seed(manager: EntityManager): Promise<void> {
  await manager.save(
    manager.create(Basket, {
      label: 'home',
      items: [
        { sku: 'a', qty: 1, meta: { tags: ['x'] } },
        { sku: 'b', qty: 2 },
      ],
      notes: [{ text: 'one' }, { text: 'two' }],
    }),
  );
  await manager.insert(BasketItem, { sku: 'c', qty: 1 });
}
