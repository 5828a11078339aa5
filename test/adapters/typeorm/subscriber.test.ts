import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { ActionLogSubscriber, type ActionLogSubscriberOptions } from 'actionlog/typeorm';
import type { DataSource } from 'typeorm';
import { openDatabase, SQL_KINDS, type SqlDatabase, type SqlKind } from '../../support/sql.js';
import { Article, Customer, Order, OrderLine, Product, SealedNote, TEST_ENTITIES, Ticket } from '../../support/typeorm-entities.js';
import { logsOf as logsOfRun } from '../../support/logs.js';
import { anyDate, stringMatching } from '../../support/matchers.js';

// PostgreSQL 18 reports the rows a query-level write changes from the statement itself; 'readBefore' keeps the
// read before it, the way every other database (and PostgreSQL before 18) is handled.
const RUNS: Array<[string, SqlKind, ActionLogSubscriberOptions]> = [
  ...SQL_KINDS.map((kind): [string, SqlKind, ActionLogSubscriberOptions] => [kind, kind, {}]),
  ['postgres, reading before query-level writes', 'postgres', { queryWrites: 'readBefore' }],
];

describe.each(RUNS)('TypeORM subscriber on %s', (_name, kind, baseOptions) => {
  let db: SqlDatabase;
  let ds: DataSource;
  let store: MemoryStore;
  let logger: ActionLogger;

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: TEST_ENTITIES });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await logger.close();
    await db.drop();
  });

  /** A fresh logger and subscriber, and empty tables. */
  function attach(options: ActionLogSubscriberOptions = {}) {
    ds.subscribers.splice(0, ds.subscribers.length);
    store = new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 0 });
    ds.subscribers.push(new ActionLogSubscriber(logger, { ...baseOptions, ...options }));
  }

  beforeEach(async () => {
    ds.subscribers.splice(0, ds.subscribers.length);
    for (const entity of [OrderLine, Order, Customer, Ticket, Product, Article])
      await ds.getRepository(entity).createQueryBuilder().delete().execute();
    attach();
  });

  /** Runs `fn` as one request and returns the model logs of its document. */
  // Each call with a logger of its own, so that every call's document is the only one.
  async function logsOf(fn: () => Promise<unknown>): Promise<ModelLog[]> {
    const logs = await logsOfRun(logger, store, fn);
    await logger.close();
    attach();
    return logs;
  }

  const summary = (logs: ModelLog[]) => logs.map((l) => [l.action, l.model_class_name, l.model_id]);

  async function seedOrder(values: Partial<Order> = {}): Promise<Order> {
    return ds
      .getRepository(Order)
      .save(
        ds
          .getRepository(Order)
          .create({ total: 10, address: { city: 'Oslo', zip: '0150' }, tags: ['a'], notes: { lines: ['x'] }, ...values }),
      );
  }

  it('records save() of a new entity as Created, with the exact stored object', async () => {
    const customer = await ds.getRepository(Customer).save({ name: 'Ada' });
    const logs = await logsOf(() =>
      ds
        .getRepository(Order)
        .save(
          ds
            .getRepository(Order)
            .create({ total: 5, address: { city: 'Oslo' }, tags: ['rush', 'gift'], notes: { lines: ['ring twice'] }, customer }),
        ),
    );
    expect(logs).toHaveLength(1);
    const [log] = logs;
    expect(log).toMatchObject({
      action: 'Created',
      model: 'orders',
      model_class_name: 'Order',
      model_namespace: kind === 'postgres' ? 'public.orders' : 'main.orders',
      model_id: stringMatching(/^\d+$/),
    });
    expect(log!.model_details.old_object).toBeNull();
    expect(log!.model_details.new_object).toEqual({
      id: Number(log!.model_id),
      status: 'new',
      total: 5,
      address: { city: 'Oslo', zip: null },
      tags: ['rush', 'gift'],
      notes: { lines: ['ring twice'] },
      dueDate: null,
      customer: { id: customer.id },
      createdAt: anyDate,
      updatedAt: anyDate,
      version: 1,
    });
  });

  it('records save() of a loaded entity as Updated, with old and new objects and dotted changed fields', async () => {
    const order = await seedOrder();
    const logs = await logsOf(async () => {
      const loaded = (await ds.getRepository(Order).findOneBy({ id: order.id }))!;
      loaded.status = 'paid';
      loaded.address.city = 'Bergen';
      loaded.notes = { lines: ['x', 'y'] };
      await ds.getRepository(Order).save(loaded);
    });
    expect(summary(logs)).toEqual([['Updated', 'Order', String(order.id)]]);
    const { old_object, new_object, changed_fields } = logs[0]!.model_details;
    expect(old_object).toMatchObject({ status: 'new', address: { city: 'Oslo', zip: '0150' }, notes: { lines: ['x'] }, version: 1 });
    expect(new_object).toMatchObject({
      status: 'paid',
      address: { city: 'Bergen', zip: '0150' },
      notes: { lines: ['x', 'y'] },
      version: 2,
    });
    expect(changed_fields).toEqual(expect.arrayContaining(['status', 'address.city', 'notes.lines.1', 'version']));
    expect(changed_fields).not.toContain('total');
  });

  it('records a JSON column thousands of levels deep, cut at the depth limit with a marker, never skipped', async () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 2000; i++) deep = { next: deep };
    const logs = await logsOf(() => seedOrder({ notes: { lines: ['x'], meta: deep } }));
    expect(summary(logs)).toEqual([['Created', 'Order', expect.any(String) as string]]);
    expect(JSON.stringify(logs[0]!.model_details.new_object)).toContain('[Truncated: max depth]');
  });

  it('records nothing for a save() that changes nothing', async () => {
    const order = await seedOrder();
    const logs = await logsOf(async () => {
      const loaded = (await ds.getRepository(Order).findOneBy({ id: order.id }))!;
      await ds.getRepository(Order).save(loaded);
    });
    expect(logs).toEqual([]);
  });

  it('records a bulk insert() as one Created per row, with database defaults', async () => {
    const logs = await logsOf(() =>
      ds.getRepository(Product).insert([
        { sku: 'p1', name: 'Pen', price: 2 },
        { sku: 'p2', name: 'Pad', price: 3 },
      ]),
    );
    expect(summary(logs)).toEqual([
      ['Created', 'Product', 'p1'],
      ['Created', 'Product', 'p2'],
    ]);
    expect(logs.map((l) => l.model_details.new_object)).toEqual([
      { sku: 'p1', name: 'Pen', price: 2 },
      { sku: 'p2', name: 'Pad', price: 3 },
    ]);
    const orderLogs = await logsOf(() => ds.getRepository(Order).insert({ total: 1, address: {}, tags: [] }));
    expect(orderLogs[0]!.model_details.new_object).toMatchObject({ status: 'new', total: 1, version: 1, createdAt: anyDate });
  });

  it('records remove() as Deleted, with the id TypeORM strips from the entity', async () => {
    const order = await seedOrder();
    const logs = await logsOf(async () => {
      const loaded = (await ds.getRepository(Order).findOneBy({ id: order.id }))!;
      await ds.getRepository(Order).remove(loaded);
      expect(loaded.id).toBeUndefined();
    });
    expect(summary(logs)).toEqual([['Deleted', 'Order', String(order.id)]]);
    expect(logs[0]!.model_details.old_object).toMatchObject({ id: order.id, total: 10, address: { city: 'Oslo' } });
    expect(logs[0]!.model_details.new_object).toBeNull();
  });

  it('records softRemove() and recover() as SoftDeleted and Restored', async () => {
    const ticket = await ds.getRepository(Ticket).save({ title: 'Broken' });
    const logs = await logsOf(async () => {
      const loaded = (await ds.getRepository(Ticket).findOneBy({ id: ticket.id }))!;
      await ds.getRepository(Ticket).softRemove(loaded);
      await ds.getRepository(Ticket).recover(loaded);
    });
    expect(summary(logs)).toEqual([
      ['SoftDeleted', 'Ticket', String(ticket.id)],
      ['Restored', 'Ticket', String(ticket.id)],
    ]);
    expect(logs[0]!.model_details.old_object).toEqual({ id: ticket.id, title: 'Broken', deletedAt: null });
    expect(logs[0]!.model_details.new_object).toEqual({ id: ticket.id, title: 'Broken', deletedAt: anyDate });
    expect(logs[0]!.model_details.changed_fields).toEqual(['deletedAt']);
    expect(logs[1]!.model_details.new_object).toEqual({ id: ticket.id, title: 'Broken', deletedAt: null });
  });

  it('tells an upsert that inserted from one that updated, and records a no-op upsert as nothing', async () => {
    await ds.getRepository(Product).insert({ sku: 'p1', name: 'Pen', price: 2 });
    const logs = await logsOf(() =>
      ds.getRepository(Product).upsert(
        [
          { sku: 'p1', name: 'Pen', price: 3 },
          { sku: 'p2', name: 'Pad', price: 5 },
        ],
        ['sku'],
      ),
    );
    expect(logs.map((l) => [l.action, l.model_id, l.model_details.old_object, l.model_details.new_object])).toEqual([
      ['Updated', 'p1', { sku: 'p1', name: 'Pen', price: 2 }, { sku: 'p1', name: 'Pen', price: 3 }],
      ['Created', 'p2', null, { sku: 'p2', name: 'Pad', price: 5 }],
    ]);
    expect(await logsOf(() => ds.getRepository(Product).upsert({ sku: 'p2', name: 'Pad', price: 5 }, ['sku']))).toEqual([]);
  });

  it('records repository.update() row by row with the exact new state, SQL expressions included', async () => {
    const a = await seedOrder({ status: 'new', total: 10 });
    const b = await seedOrder({ status: 'new', total: 20 });
    await seedOrder({ status: 'paid', total: 30 });
    const logs = await logsOf(() => ds.getRepository(Order).update({ status: 'new' }, { status: 'packed', total: () => 'total + 1' }));
    expect(
      logs.map((l) => [
        l.action,
        l.model_id,
        l.model_details.old_object?.total,
        l.model_details.new_object?.total,
        l.model_details.new_object?.status,
      ]),
    ).toEqual([
      ['Updated', String(a.id), 10, 11, 'packed'],
      ['Updated', String(b.id), 20, 21, 'packed'],
    ]);
    expect(logs[0]!.model_details.changed_fields).toEqual(expect.arrayContaining(['status', 'total', 'version']));
    expect(await logsOf(() => ds.getRepository(Order).update({ id: a.id }, { status: 'packed' }))).toHaveLength(
      // The version column changes with every update, so the row did change.
      1,
    );
    expect(await logsOf(() => ds.getRepository(Order).update({ status: 'nothing-matches' }, { total: 0 }))).toEqual([]);
  });

  it('records repository.delete(), softDelete() and restore() row by row', async () => {
    const a = await seedOrder();
    const b = await seedOrder();
    const t = await ds.getRepository(Ticket).save({ title: 'T' });
    const logs = await logsOf(async () => {
      await ds.getRepository(Order).delete({ id: a.id });
      await ds.getRepository(Order).delete([b.id]);
      await ds.getRepository(Ticket).softDelete({ id: t.id });
      await ds.getRepository(Ticket).restore({ id: t.id });
    });
    expect(summary(logs)).toEqual([
      ['Deleted', 'Order', String(a.id)],
      ['Deleted', 'Order', String(b.id)],
      ['SoftDeleted', 'Ticket', String(t.id)],
      ['Restored', 'Ticket', String(t.id)],
    ]);
    expect(logs[0]!.model_details.old_object).toMatchObject({ id: a.id, total: 10 });
    expect(logs[2]!.model_details.new_object).toEqual({ id: t.id, title: 'T', deletedAt: anyDate });
    expect(logs[3]!.model_details.old_object).toEqual({ id: t.id, title: 'T', deletedAt: anyDate });
    expect(logs[3]!.model_details.new_object).toEqual({ id: t.id, title: 'T', deletedAt: null });
  });

  it('records QueryBuilder update, delete, softDelete and restore', async () => {
    const a = await seedOrder({ total: 5 });
    const t = await ds.getRepository(Ticket).save({ title: 'Q' });
    const logs = await logsOf(async () => {
      await ds.createQueryBuilder().update(Order).set({ status: 'shipped' }).where('total < :max', { max: 6 }).execute();
      await ds.getRepository(Ticket).createQueryBuilder().softDelete().where('id = :id', { id: t.id }).execute();
      await ds.getRepository(Ticket).createQueryBuilder().restore().where('id = :id', { id: t.id }).execute();
      await ds.createQueryBuilder().delete().from(Order).where('id = :id', { id: a.id }).execute();
    });
    expect(summary(logs)).toEqual([
      ['Updated', 'Order', String(a.id)],
      ['SoftDeleted', 'Ticket', String(t.id)],
      ['Restored', 'Ticket', String(t.id)],
      ['Deleted', 'Order', String(a.id)],
    ]);
    expect(logs[0]!.model_details.new_object).toMatchObject({ status: 'shipped', total: 5 });
  });

  it('records one summary entry for a query over maxDocumentsPerQuery rows', async () => {
    attach({ maxDocumentsPerQuery: 3 });
    await ds.getRepository(Product).insert(Array.from({ length: 5 }, (_, i) => ({ sku: `s${i}`, name: 'n', price: i })));
    const logs = await logsOf(() => ds.getRepository(Product).update({ name: 'n' }, { price: 0 }));
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      action: 'Updated',
      model_id: null,
      truncated: true,
      model_details: { old_object: null, new_object: null, query: { matched: 5 } },
    });
    expect(JSON.stringify(logs[0]!.model_details.query!.filter)).toMatch(/UPDATE/);
  });

  it('joins composite primary keys into the model id', async () => {
    const logs = await logsOf(async () => {
      await ds.getRepository(OrderLine).save({ orderId: 7, lineNo: 2, sku: 'a', qty: 1 });
      await ds.getRepository(OrderLine).update({ orderId: 7, lineNo: 2 }, { qty: 5 });
      await ds.getRepository(OrderLine).delete({ orderId: 7, lineNo: 2 });
    });
    expect(summary(logs)).toEqual([
      ['Created', 'OrderLine', '7:2'],
      ['Updated', 'OrderLine', '7:2'],
      ['Deleted', 'OrderLine', '7:2'],
    ]);
    expect(logs[1]!.model_details.changed_fields).toEqual(['qty']);
  });

  it('names the child class of single-table inheritance, in the parent table', async () => {
    const logs = await logsOf(() => ds.getRepository(Article).save({ title: 'Hello', body: 'World' }));
    expect(logs[0]).toMatchObject({ action: 'Created', model_class_name: 'Article', model: 'contents' });
    expect(logs[0]!.model_details.new_object).toMatchObject({ title: 'Hello', body: 'World' });
  });

  it('leaves omitted fields out of old and new objects and of changed fields, and redacts secrets', async () => {
    attach({ omit: { Order: ['notes', 'address.zip'] } });
    const order = await seedOrder();
    const logs = await logsOf(() =>
      ds.getRepository(Order).update({ id: order.id }, { notes: { lines: [] }, address: { zip: '9999', city: 'Bergen' } }),
    );
    expect(logs[0]!.model_details.old_object).not.toHaveProperty('notes');
    expect(logs[0]!.model_details.new_object).not.toHaveProperty('notes');
    expect(logs[0]!.model_details.new_object!.address).toEqual({ city: 'Bergen' });
    expect(logs[0]!.model_details.changed_fields).toEqual(expect.arrayContaining(['address.city']));
    expect(logs[0]!.model_details.changed_fields.some((f) => f.startsWith('notes') || f === 'address.zip')).toBe(false);
    const secret = await logsOf(() => ds.getRepository(Customer).save({ name: 'Ada', apiToken: 'tok-123' }));
    expect(secret[0]!.model_details.new_object).toMatchObject({ apiToken: '[REDACTED]' });
  });

  it('records only included entities and never excluded ones', async () => {
    attach({ include: [Order, 'Ticket'], exclude: ['Ticket'] });
    const logs = await logsOf(async () => {
      await seedOrder();
      await ds.getRepository(Ticket).save({ title: 'x' });
      await ds.getRepository(Product).save({ sku: 'z', name: 'z', price: 1 });
    });
    expect(summary(logs).map((s) => s[1])).toEqual(['Order']);
  });

  it('records nothing for a write that fails, and lets the error through', async () => {
    await ds.getRepository(Product).insert({ sku: 'dup', name: 'a', price: 1 });
    let thrown: unknown;
    const logs = await logsOf(async () => {
      try {
        await ds.getRepository(Product).insert({ sku: 'dup', name: 'b', price: 2 });
      } catch (error) {
        thrown = error;
      }
    });
    expect(thrown).toBeDefined();
    expect(logs).toEqual([]);
  });

  describe('transactions', () => {
    it('records the changes of a committed transaction, in the request that made them', async () => {
      const logs = await logsOf(() =>
        ds.transaction(async (manager) => {
          const order = await manager.save(manager.create(Order, { total: 1, address: {}, tags: [] }));
          await manager.update(Order, { id: order.id }, { total: 2 });
        }),
      );
      expect(logs.map((l) => l.action)).toEqual(['Created', 'Updated']);
    });

    it('records nothing of a transaction that rolls back', async () => {
      const logs = await logsOf(async () => {
        await ds
          .transaction(async (manager) => {
            await manager.save(manager.create(Order, { total: 1, address: {}, tags: [] }));
            await manager.delete(Product, {});
            throw new Error('abort');
          })
          .catch(() => {});
      });
      expect(logs).toEqual([]);
      expect(await ds.getRepository(Order).count()).toBe(0);
    });

    it('drops a rolled-back savepoint inside a committed transaction, and keeps a released one', async () => {
      const logs = await logsOf(() =>
        ds.transaction(async (manager) => {
          await manager.save(manager.create(Product, { sku: 'outer', name: 'o', price: 1 }));
          await manager
            .transaction(async (inner) => {
              await inner.save(inner.create(Product, { sku: 'inner-lost', name: 'i', price: 1 }));
              throw new Error('inner abort');
            })
            .catch(() => {});
          await manager.transaction(async (inner) => {
            await inner.save(inner.create(Product, { sku: 'inner-kept', name: 'i', price: 1 }));
          });
        }),
      );
      expect(summary(logs)).toEqual([
        ['Created', 'Product', 'outer'],
        ['Created', 'Product', 'inner-kept'],
      ]);
      expect((await ds.getRepository(Product).find({ order: { sku: 'ASC' } })).map((p) => p.sku)).toEqual(['inner-kept', 'outer']);
    });

    it('records writes outside a transaction at once', async () => {
      const order = await seedOrder();
      await logger.run({ requestUuid: 'now' }, () => ds.getRepository(Order).update({ id: order.id }, { total: 99 }));
      await logger.flush();
      expect(
        store
          .requests()
          .find((d) => d.request_uuid === 'now')!
          .details.model_logs.map((l) => l.action),
      ).toEqual(['Updated']);
    });
  });

  it('works from the subscribers option of a DataSource', async () => {
    const other = await openDatabase(kind, { entities: TEST_ENTITIES });
    const local = new MemoryStore();
    const localLogger = createActionLogger({ store: local, flushIntervalMs: 0 });
    const Bound = ActionLogSubscriber.of(localLogger);
    other.dataSource.subscribers.push(new Bound());
    await localLogger.run({}, () => other.dataSource.getRepository(Product).save({ sku: 'x', name: 'x', price: 1 }));
    await localLogger.close();
    await other.drop();
    expect(local.requests()[0]!.details.model_logs.map((l) => l.model_id)).toEqual(['x']);
  });
});

describe.each(RUNS)('TypeORM subscriber on %s, with a column transformer whose from() throws', (_name, kind, options) => {
  let db: SqlDatabase;
  let logger: ActionLogger;
  const errors: Error[] = [];

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: [SealedNote] });
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0, onError: (error) => errors.push(error) });
    db.dataSource.subscribers.push(new ActionLogSubscriber(logger, options));
  });
  afterAll(async () => {
    await logger.close();
    await db.drop();
  });

  /** How a write ended: 'resolved', or the message it rejected with. */
  const settled = (write: Promise<unknown>) =>
    write.then(
      () => 'resolved',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );

  it('lets insert(), update() and delete() through, writes them, and reports the error to onError', async () => {
    const notes = db.dataSource.getRepository(SealedNote);
    const rows = () => db.dataSource.query<unknown[]>('SELECT title, digest FROM sealed_notes');
    const outcomes = await logger.run({}, async () => ({
      insert: await settled(notes.insert({ title: 'draft', digest: 'x' })),
      update: await settled(notes.update({ title: 'draft' }, { title: 'final' })),
    }));
    expect(outcomes).toEqual({ insert: 'resolved', update: 'resolved' });
    expect(await rows()).toEqual([{ title: 'final', digest: 'sha:x' }]);
    expect(await logger.run({}, () => settled(notes.delete({ title: 'final' })))).toBe('resolved');
    expect(await rows()).toEqual([]);
    expect(errors.map((e) => e.message)).toContain('digest is write-only');
  });
});
