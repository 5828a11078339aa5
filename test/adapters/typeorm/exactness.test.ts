import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { ActionLogSubscriber, type ActionLogSubscriberOptions } from 'actionlog/typeorm';
import { type DataSource, In, ReturningStatementNotSupportedError } from 'typeorm';
import { openDatabase, type SqlDatabase, type SqlKind } from '../../support/sql.js';
import { Basket, BasketCoupon, BasketItem, BasketNote, Order, Product, TEST_ENTITIES } from '../../support/typeorm-entities.js';
import { logsOf as logsOfRun } from '../../support/logs.js';
import { anyDate } from '../../support/matchers.js';
import { asObject, readState, replay } from './database-state.js';

/*
 * The rule: what the database applied is recorded, exactly once, with whole stored rows; what it did not apply is
 * not. Every test reads the tables with plain SQL before and after the call, replays the call's model logs over
 * the rows before it, and expects the rows after it; and no error reaches onError.
 */

const RUNS: Array<[string, SqlKind, ActionLogSubscriberOptions]> = [
  ['sqlite', 'sqlite', {}],
  ['postgres', 'postgres', {}],
  ['postgres, reading before query-level writes', 'postgres', { queryWrites: 'readBefore' }],
];

const TABLES = [Basket, BasketItem, BasketNote, BasketCoupon, Product, Order];

describe.each(RUNS)('TypeORM capture exactness on %s', (_name, kind, options) => {
  let db: SqlDatabase;
  let ds: DataSource;
  let store: MemoryStore;
  let logger: ActionLogger;
  const errors: Error[] = [];

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: TEST_ENTITIES });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await logger.close();
    await db.drop();
  });

  beforeEach(async () => {
    ds.subscribers.splice(0, ds.subscribers.length);
    for (const entity of [BasketCoupon, BasketNote, BasketItem, Basket, Product, Order])
      await ds.getRepository(entity).createQueryBuilder().delete().execute();
    errors.length = 0;
    store = new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => void errors.push(error) });
    ds.subscribers.push(new ActionLogSubscriber(logger, options));
  });
  afterEach(async () => {
    await logger.close();
    expect(errors.map(String)).toEqual([]);
  });

  /** Runs `fn` as one request: its model logs, checked against the tables before and after it. */
  async function exact(fn: () => Promise<unknown>): Promise<ModelLog[]> {
    const before = await readState(ds, TABLES);
    const logs = await logsOfRun(logger, store, fn);
    const after = await readState(ds, TABLES);
    const { state, problems } = replay(before, logs);
    expect(problems).toEqual([]);
    expect(asObject(state)).toEqual(asObject(after));
    return logs;
  }

  const baskets = () => ds.getRepository(Basket);
  const items = () => ds.getRepository(BasketItem);
  const notes = () => ds.getRepository(BasketNote);
  const products = () => ds.getRepository(Product);
  const actions = (logs: ModelLog[]) => logs.map((l) => `${l.action} ${l.model_class_name}`);
  const failed = (promise: Promise<unknown>) =>
    promise.then(
      () => 'applied',
      () => 'failed',
    );

  async function seedBasket(): Promise<Basket> {
    return baskets().save(
      baskets().create({
        label: 'home',
        items: [
          { sku: 'a', qty: 1, meta: { tags: ['x'] } },
          { sku: 'b', qty: 2 },
        ],
        notes: [{ text: 'one' }, { text: 'two' }],
      }),
    );
  }

  describe('defects', () => {
    it('8: save() of a new entity with { reload: false } records the stored row', async () => {
      const logs = await exact(() => baskets().save(baskets().create({ label: 'a' }), { reload: false }));
      expect(actions(logs)).toEqual(['Created Basket']);
      expect(logs[0]!.model_details.new_object).toMatchObject({ label: 'a', edits: 0, version: 1 });
    });

    it('8: save() of a loaded entity with { reload: false } records the new version and update date', async () => {
      const { id } = await baskets().save(baskets().create({ label: 'a' }));
      const loaded = await baskets().findOneByOrFail({ id });
      loaded.label = 'b';
      const logs = await exact(() => baskets().save(loaded, { reload: false }));
      expect(actions(logs)).toEqual(['Updated Basket']);
      expect(logs[0]!.model_details.new_object).toMatchObject({ label: 'b', edits: 1, version: 2 });
      expect(loaded.version).toBe(1);
    });

    it('9: children saved through a one-to-many cascade carry their foreign key', async () => {
      let basket: Basket | undefined;
      const logs = await exact(async () => {
        basket = await seedBasket();
      });
      expect(actions(logs).sort()).toEqual([
        'Created Basket',
        'Created BasketItem',
        'Created BasketItem',
        'Created BasketNote',
        'Created BasketNote',
      ]);
      for (const log of logs.filter((l) => l.model_class_name !== 'Basket'))
        expect(log.model_details.new_object).toMatchObject({ basket: { id: basket!.id } });
    });

    it('9: query-level updates and deletes of such a child keep its foreign key', async () => {
      const basket = await seedBasket();
      const logs = await exact(async () => {
        await items().update({ sku: 'a' }, { qty: 4 });
        await ds
          .createQueryBuilder()
          .update(BasketItem)
          .set({ qty: () => 'qty + 1' })
          .where('sku = :sku', { sku: 'a' })
          .execute();
        await items().delete({ sku: 'b' });
        await notes().delete({ text: 'one' });
      });
      expect(actions(logs)).toEqual(['Updated BasketItem', 'Updated BasketItem', 'Deleted BasketItem', 'Deleted BasketNote']);
      for (const log of logs) expect(log.model_details.old_object).toMatchObject({ basket: { id: basket.id } });
    });

    it('10: a child dropped from the array and saved through the parent is recorded (foreign key set to NULL)', async () => {
      const { id } = await seedBasket();
      const loaded = await baskets().findOneOrFail({ where: { id }, relations: { items: true } });
      loaded.items = loaded.items!.filter((item) => item.sku !== 'a');
      const logs = await exact(() => baskets().save(loaded));
      expect(actions(logs)).toEqual(['Updated BasketItem']);
      expect(logs[0]!.model_details).toMatchObject({
        old_object: { sku: 'a', basket: { id } },
        new_object: { sku: 'a', basket: { id: null } },
      });
    });

    it('10: a child dropped from the array with orphanedRowAction "delete" is recorded as deleted', async () => {
      const { id } = await seedBasket();
      const loaded = await baskets().findOneOrFail({ where: { id }, relations: { notes: true } });
      loaded.notes = loaded.notes!.filter((note) => note.text !== 'one');
      const logs = await exact(() => baskets().save(loaded));
      expect(actions(logs)).toEqual(['Deleted BasketNote']);
      expect(logs[0]!.model_details.old_object).toMatchObject({ text: 'one', basket: { id } });
    });

    it('10: a child dropped from the array with orphanedRowAction "soft-delete" is recorded as soft-deleted', async () => {
      const { id } = await baskets().save(baskets().create({ label: 'c', coupons: [{ code: 'one' }, { code: 'two' }] }));
      const loaded = await baskets().findOneOrFail({ where: { id }, relations: { coupons: true } });
      loaded.coupons = loaded.coupons!.filter((coupon) => coupon.code !== 'one');
      const logs = await exact(() => baskets().save(loaded));
      expect(actions(logs)).toEqual(['SoftDeleted BasketCoupon']);
      expect(logs[0]!.model_details).toMatchObject({
        old_object: { code: 'one', deletedAt: null },
        new_object: { code: 'one', deletedAt: anyDate },
      });
    });

    it('11: save([valid, invalid], { transaction: false }) records what stayed in the table', async () => {
      let outcome = '';
      const logs = await exact(async () => {
        outcome = await failed(
          items().save(
            [
              { sku: 'valid', qty: 1 },
              { sku: 'invalid', qty: -1 },
            ],
            { transaction: false },
          ),
        );
      });
      expect(outcome).toBe('failed');
      // SQLite inserts row by row (no RETURNING for generated ids), PostgreSQL both rows in one statement.
      expect(actions(logs)).toEqual(kind === 'sqlite' ? ['Created BasketItem'] : []);
      expect(await items().countBy({ sku: 'valid' })).toBe(kind === 'sqlite' ? 1 : 0);
    });

    it('12: a transaction that caught a failed statement and went on is recorded as the database ended it', async () => {
      let outcome = '';
      const logs = await exact(async () => {
        outcome = await failed(
          ds.transaction(async (manager) => {
            await manager.save(BasketItem, { sku: 'kept?', qty: 1 });
            await failed(manager.save(BasketItem, { sku: 'bad', qty: -1 }));
          }),
        );
      });
      // PostgreSQL answers the COMMIT of an aborted transaction with ROLLBACK (no error); SQLite undid only the statement.
      expect(outcome).toBe('applied');
      expect(actions(logs)).toEqual(kind === 'sqlite' ? ['Created BasketItem'] : []);
      expect(await items().countBy({ sku: 'kept?' })).toBe(kind === 'sqlite' ? 1 : 0);
    });
  });

  describe('less common calls', () => {
    it('insert() of many rows, one violating a constraint, outside a transaction: nothing is applied or recorded', async () => {
      await items().insert({ sku: 'dup' });
      const logs = await exact(() => failed(items().insert([{ sku: 'new' }, { sku: 'dup' }])));
      expect(logs).toEqual([]);
    });

    it('insert() of many rows, one violating a constraint, inside a transaction that goes on and commits', async () => {
      const logs = await exact(() =>
        ds.transaction(async (manager) => {
          await manager.insert(BasketItem, { sku: 'before' });
          await failed(manager.insert(BasketItem, [{ sku: 'x' }, { sku: 'y', qty: -5 }]));
        }),
      );
      expect(actions(logs)).toEqual(kind === 'sqlite' ? ['Created BasketItem'] : []);
    });

    it('writes side by side in one transaction (Promise.all): each recorded once, exactly', async () => {
      for (let i = 1; i <= 4; i++) await products().insert({ sku: `p${i}`, name: `n${i}`, price: i });
      const logs = await exact(() =>
        ds.transaction((manager) =>
          Promise.all([
            manager.update(Product, { sku: 'p1' }, { price: 10 }),
            manager.delete(Product, { sku: 'p2' }),
            manager.save(Product, { sku: 'p5', name: 'five', price: 5 }),
            manager.upsert(Product, { sku: 'p3', name: 'three', price: 30 }, ['sku']),
            manager.insert(Product, { sku: 'p6', name: 'six', price: 6 }),
            manager.update(Product, { price: 4 }, { name: 'four' }),
          ]),
        ),
      );
      expect(logs.map((l) => `${l.action} ${l.model_id}`).sort()).toEqual(
        ['Updated p1', 'Deleted p2', 'Created p5', 'Updated p3', 'Created p6', 'Updated p4'].sort(),
      );
    });

    it('insert() in a transaction that rolls back: nothing is recorded', async () => {
      const logs = await exact(() =>
        failed(
          ds.transaction(async (manager) => {
            await manager.insert(BasketItem, [{ sku: 'x' }, { sku: 'y' }]);
            throw new Error('roll back');
          }),
        ),
      );
      expect(logs).toEqual([]);
    });

    it('QueryBuilder insert with updateEntity(false) records the rows, and answers as without actionlog', async () => {
      const logs = await exact(async () => {
        const result = await ds
          .createQueryBuilder()
          .insert()
          .into(BasketItem)
          .values([{ sku: 'q1' }, { sku: 'q2', qty: 3 }])
          .updateEntity(false)
          .execute();
        expect(result.identifiers).toEqual([]);
        expect(result.raw).toEqual(kind === 'sqlite' ? expect.any(Number) : []);
      });
      expect(actions(logs)).toEqual(['Created BasketItem', 'Created BasketItem']);
    });

    it('upsert() with skipUpdateIfNoValuesChanged records changed and new rows only', async () => {
      await products().insert([
        { sku: 'same', name: 'pen', price: 1 },
        { sku: 'changed', name: 'pad', price: 2 },
      ]);
      const logs = await exact(() =>
        products().upsert(
          [
            { sku: 'same', name: 'pen', price: 1 },
            { sku: 'changed', name: 'pad', price: 3 },
            { sku: 'new', name: 'ink', price: 4 },
          ],
          { conflictPaths: ['sku'], skipUpdateIfNoValuesChanged: true },
        ),
      );
      expect(logs.map((l) => [l.action, l.model_id])).toEqual([
        ['Updated', 'changed'],
        ['Created', 'new'],
      ]);
    });

    it('insert().orIgnore() records the rows it inserted, whichever rows it skipped', async () => {
      await items().insert([{ sku: 'taken' }, { sku: 'other' }]);
      const logs = await exact(async () => {
        for (const skus of [
          ['taken', 'n1', 'n2'],
          ['n3', 'n4', 'other'],
        ])
          await ds
            .createQueryBuilder()
            .insert()
            .into(BasketItem)
            .values(skus.map((sku) => ({ sku, qty: 3 })))
            .orIgnore()
            .execute();
      });
      expect(logs.map((l) => [l.action, (l.model_details.new_object as { sku: string }).sku])).toEqual([
        ['Created', 'n1'],
        ['Created', 'n2'],
        ['Created', 'n3'],
        ['Created', 'n4'],
      ]);
    });

    it('insert().orIgnore() of rows with no unique key but a generated one: all inserted, all recorded', async () => {
      const { id } = await baskets().save(baskets().create({ label: 'b' }));
      const logs = await exact(() =>
        ds
          .createQueryBuilder()
          .insert()
          .into(BasketNote)
          .values([
            { text: 'x', basket: { id } },
            { text: 'y', basket: { id } },
          ])
          .orIgnore()
          .execute(),
      );
      expect(actions(logs)).toEqual(['Created BasketNote', 'Created BasketNote']);
    });

    it('save() of an array mixing new and loaded entities', async () => {
      await items().insert({ sku: 'old', qty: 1 });
      const loaded = await items().findOneByOrFail({ sku: 'old' });
      loaded.qty = 5;
      const logs = await exact(() => items().save([items().create({ sku: 'fresh' }), loaded]));
      expect(actions(logs).sort()).toEqual(['Created BasketItem', 'Updated BasketItem']);
    });

    it('QueryBuilder update().returning() records the rows and leaves the caller its own returned columns', async () => {
      await items().insert([{ sku: 'r1' }, { sku: 'r2' }]);
      const build = () => ds.createQueryBuilder().update(BasketItem).set({ qty: 9 }).where('qty = :qty', { qty: 1 });
      if (kind === 'sqlite') {
        expect(() => build().returning(['sku'])).toThrow(ReturningStatementNotSupportedError);
        return;
      }
      let raw: unknown;
      const logs = await exact(async () => {
        raw = (await build().returning(['sku', 'qty']).execute()).raw;
      });
      expect(raw).toEqual([
        { sku: 'r1', qty: 9 },
        { sku: 'r2', qty: 9 },
      ]);
      expect(actions(logs)).toEqual(['Updated BasketItem', 'Updated BasketItem']);
    });

    it('QueryBuilder insert, delete and softDelete with returning(): recorded, the caller gets its own columns', async () => {
      if (kind === 'sqlite') {
        expect(() => ds.createQueryBuilder().insert().into(BasketItem).returning(['sku'])).toThrow(ReturningStatementNotSupportedError);
        return;
      }
      const answers: unknown[] = [];
      const logs = await exact(async () => {
        const inserted = await ds
          .createQueryBuilder()
          .insert()
          .into(BasketItem)
          .values([{ sku: 'r1' }, { sku: 'r2' }, { sku: 'r3' }])
          .returning(['sku'])
          .execute();
        answers.push((inserted.raw as Array<{ sku: string }>).map((row) => row.sku));
        const softDeleted = await ds.createQueryBuilder().softDelete().from(BasketItem).where({ sku: 'r2' }).returning(['sku']).execute();
        answers.push(softDeleted.raw);
        const deleted = await ds.createQueryBuilder().delete().from(BasketItem).where({ sku: 'r1' }).returning('sku').execute();
        answers.push(deleted.raw);
      });
      expect(answers).toEqual([['r1', 'r2', 'r3'], [{ sku: 'r2' }], [{ sku: 'r1' }]]);
      expect(logs.map((l) => [l.action, (l.model_details.old_object ?? l.model_details.new_object)?.sku])).toEqual([
        ['Created', 'r1'],
        ['Created', 'r2'],
        ['Created', 'r3'],
        ['SoftDeleted', 'r2'],
        ['Deleted', 'r1'],
      ]);
    });

    it('increment() and decrement(), one of them failing its check constraint', async () => {
      await items().insert([
        { sku: 'i1', qty: 1 },
        { sku: 'i2', qty: 2 },
      ]);
      const logs = await exact(async () => {
        await items().increment({ sku: In(['i1', 'i2']) }, 'qty', 3);
        await items().decrement({ sku: 'i1' }, 'qty', 1);
        expect(await failed(items().decrement({ sku: 'i2' }, 'qty', 100))).toBe('failed');
      });
      expect(logs.map((l) => [l.model_id && (l.model_details.new_object as { sku: string }).sku, l.model_details.new_object?.qty])).toEqual(
        [
          ['i1', 4],
          ['i2', 5],
          ['i1', 3],
        ],
      );
    });

    it('update() by a non-primary where clause matching many rows', async () => {
      await items().insert([{ sku: 'm1' }, { sku: 'm2' }, { sku: 'm3', qty: 7 }]);
      const logs = await exact(() => items().update({ qty: 1 }, { meta: { tags: ['bulk'], size: 2 } }));
      expect(logs.map((l) => (l.model_details.new_object as { sku: string }).sku).sort()).toEqual(['m1', 'm2']);
    });

    it('softDelete() and restore() by criteria: rows already in that state are left out', async () => {
      await items().insert([{ sku: 's1' }, { sku: 's2' }, { sku: 's3', qty: 2 }]);
      await items().softDelete({ sku: 's1' });
      const logs = await exact(async () => {
        await items().softDelete({ qty: 1 });
        await items().restore({ sku: In(['s2', 's3']) });
      });
      expect(logs.map((l) => [l.action, (l.model_details.new_object as { sku: string }).sku])).toEqual([
        ['SoftDeleted', 's2'],
        ['Restored', 's2'],
      ]);
    });

    it('remove(), softRemove() and recover() of loaded entities', async () => {
      await items().insert([{ sku: 'gone' }, { sku: 'hidden' }]);
      const gone = await items().findOneByOrFail({ sku: 'gone' });
      const hidden = await items().findOneByOrFail({ sku: 'hidden' });
      const logs = await exact(async () => {
        await items().remove(gone);
        await items().softRemove(hidden);
        await items().recover(hidden);
      });
      expect(actions(logs)).toEqual(['Deleted BasketItem', 'SoftDeleted BasketItem', 'Restored BasketItem']);
    });

    it('cascades: a loaded parent saved with a child added, one changed and one dropped', async () => {
      const { id } = await seedBasket();
      const loaded = await baskets().findOneOrFail({ where: { id }, relations: { items: true, notes: true } });
      loaded.label = 'renamed';
      loaded.items!.find((item) => item.sku === 'a')!.qty = 10;
      loaded.items!.push(items().create({ sku: 'c' }));
      loaded.notes = loaded.notes!.filter((note) => note.text === 'one');
      const logs = await exact(() => baskets().save(loaded));
      expect(actions(logs).sort()).toEqual(['Created BasketItem', 'Deleted BasketNote', 'Updated Basket', 'Updated BasketItem']);
    });

    it('an entity listener that changes values in @BeforeUpdate: the values it set are recorded', async () => {
      const { id } = await baskets().save(baskets().create({ label: 'a' }));
      const loaded = await baskets().findOneByOrFail({ id });
      loaded.label = 'b';
      const logs = await exact(() => baskets().save(loaded));
      expect(logs[0]!.model_details.changed_fields).toEqual(expect.arrayContaining(['edits', 'label', 'version']));
    });

    it('simple-json and jsonb columns mutated in place and saved', async () => {
      await items().insert({ sku: 'j', meta: { tags: ['a'] } });
      const item = await items().findOneByOrFail({ sku: 'j' });
      const order = await ds
        .getRepository(Order)
        .save(ds.getRepository(Order).create({ total: 1, address: {}, tags: [], notes: { lines: ['x'] } }));
      const logs = await exact(async () => {
        item.meta!.tags.push('b');
        order.notes!.lines.push('y');
        await items().save(item);
        await ds.getRepository(Order).save(order);
      });
      expect(logs.map((l) => l.model_details.changed_fields.filter((f) => !['updatedAt', 'version'].includes(f)))).toEqual([
        ['meta.tags.1'],
        ['notes.lines.1'],
      ]);
    });

    it('a row saved twice in one call is recorded twice, in order', async () => {
      await items().insert({ sku: 'twice', qty: 1 });
      const first = await items().findOneByOrFail({ sku: 'twice' });
      const second = await items().findOneByOrFail({ sku: 'twice' });
      first.qty = 7;
      second.qty = 8;
      const logs = await exact(() => items().save([first, second]));
      expect(logs.map((l) => [l.model_details.old_object?.qty, l.model_details.new_object?.qty])).toEqual([
        [1, 7],
        [7, 8],
      ]);
    });

    it('a save whose first update fails rolls back its other updates, as without actionlog', async () => {
      await items().insert({ sku: 'twice', qty: 1 });
      const first = await items().findOneByOrFail({ sku: 'twice' });
      const second = await items().findOneByOrFail({ sku: 'twice' });
      first.qty = -1;
      second.qty = 0;
      let outcome = '';
      const logs = await exact(async () => {
        outcome = await failed(items().save([first, second]));
      });
      expect(outcome).toBe('failed');
      expect(logs).toEqual([]);
      expect((await items().findOneByOrFail({ sku: 'twice' })).qty).toBe(1);
    });

    it('one new entity passed twice in one save(): every row TypeORM inserts is recorded once', async () => {
      const { id } = await baskets().save(baskets().create({ label: 'twice' }));
      const fresh = notes().create({ text: 'echo', basket: { id } });
      const logs = await exact(() => notes().save([fresh, fresh]));
      // TypeORM makes a subject of each array entry: both are inserted.
      expect(actions(logs)).toEqual(['Created BasketNote', 'Created BasketNote']);
      expect(await notes().countBy({ text: 'echo' })).toBe(2);
    });

    it('a save() of more new rows than maxDocumentsPerQuery: a summary per statement over the limit', async () => {
      ds.subscribers.splice(0, ds.subscribers.length, new ActionLogSubscriber(logger, { ...options, maxDocumentsPerQuery: 2 }));
      const logs = await logsOfRun(logger, store, () => items().save(['x1', 'x2', 'x3'].map((sku) => items().create({ sku }))));
      // PostgreSQL inserts the three rows in one statement; SQLite one by one (it learns generated ids row by row).
      expect(logs.map((l) => [l.action, l.truncated ?? false, l.model_details.query?.matched])).toEqual(
        kind === 'sqlite'
          ? [
              ['Created', false, undefined],
              ['Created', false, undefined],
              ['Created', false, undefined],
            ]
          : [['Created', true, 3]],
      );
    });

    it('changed_fields are the same whichever call makes the same change', async () => {
      const changes: string[][] = [];
      const reset = () => items().upsert({ sku: 'g', qty: 1, meta: { tags: ['a'] } }, ['sku']);
      const calls: Array<() => Promise<unknown>> = [
        async () => {
          const loaded = await items().findOneByOrFail({ sku: 'g' });
          loaded.qty = 2;
          loaded.meta = { tags: ['a', 'b'] };
          return items().save(loaded);
        },
        () => items().update({ sku: 'g' }, { qty: 2, meta: { tags: ['a', 'b'] } }),
        () =>
          ds
            .createQueryBuilder()
            .update(BasketItem)
            .set({ qty: () => 'qty + 1', meta: { tags: ['a', 'b'] } })
            .where('sku = :sku', { sku: 'g' })
            .execute(),
        () => items().upsert({ sku: 'g', qty: 2, meta: { tags: ['a', 'b'] } }, ['sku']),
      ];
      for (const call of calls) {
        await reset();
        const logs = await exact(call);
        changes.push(...logs.map((l) => [...l.model_details.changed_fields].sort()));
      }
      expect(changes).toEqual(Array.from({ length: calls.length }, () => ['meta.tags.1', 'qty']));
    });
  });
});
