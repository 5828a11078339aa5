import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore } from 'actionlog';
import { ActionLogSubscriber, type ActionLogSubscriberOptions } from 'actionlog/typeorm';
import { DataSource, type EntitySubscriberInterface, type InsertResult } from 'typeorm';
import { openDatabase, type SqlDatabase } from '../../support/sql.js';
import { Product, TEST_ENTITIES, Ticket } from '../../support/typeorm-entities.js';
import { logsOf as logsOfRun } from '../../support/logs.js';

/** Every statement the data source sends, as TypeORM's BeforeQuery event reports it. */
class StatementLog implements EntitySubscriberInterface {
  readonly statements: string[] = [];
  beforeQuery(event: { query: string }): void {
    this.statements.push(event.query);
  }
}

describe('TypeORM subscriber on PostgreSQL 18: rows returned by the write itself', () => {
  let db: SqlDatabase;
  let ds: DataSource;
  let store: MemoryStore;
  let logger: ActionLogger;
  const sent = new StatementLog();

  beforeAll(async () => {
    db = await openDatabase('postgres', { entities: TEST_ENTITIES });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await logger.close();
    await db.drop();
  });

  function attach(options: ActionLogSubscriberOptions = {}) {
    ds.subscribers.splice(0, ds.subscribers.length, sent);
    store = new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 0 });
    ds.subscribers.push(new ActionLogSubscriber(logger, options));
  }

  beforeEach(async () => {
    ds.subscribers.splice(0, ds.subscribers.length);
    await ds.getRepository(Product).clear();
    await ds.getRepository(Ticket).clear();
    attach();
  });

  const logsOf = (fn: () => Promise<unknown>) => logsOfRun(logger, store, fn);

  const seed = () =>
    ds.getRepository(Product).insert([
      { sku: 'a', name: 'tea', price: 1 },
      { sku: 'b', name: 'tea', price: 2 },
      { sku: 'c', name: 'cake', price: 3 },
    ]);

  it('sends one statement for a query-level update or delete outside a transaction, and reads before it when asked to', async () => {
    expect(Number.parseFloat((ds.driver as { version?: string }).version ?? '0')).toBeGreaterThanOrEqual(18);
    await seed();
    sent.statements.length = 0;
    await logsOf(() => ds.getRepository(Product).update({ name: 'tea' }, { price: 9 }));
    await logsOf(() => ds.getRepository(Product).update({ name: 'tea' }, { price: 10 }));
    await logsOf(() => ds.getRepository(Product).delete({ sku: 'c' }));
    // Whether the table has rewrite rules is asked once per table, on a pooled connection.
    const ruleChecks = sent.statements.filter((s) => s.includes('pg_rewrite'));
    expect(ruleChecks.length).toBeLessThanOrEqual(1);
    expect(sent.statements.filter((s) => !ruleChecks.includes(s)).map((s) => s.split(' ')[0])).toEqual(['WITH', 'WITH', 'WITH']);
    attach({ queryWrites: 'readBefore' });
    sent.statements.length = 0;
    await logsOf(() => ds.getRepository(Product).update({ name: 'tea' }, { price: 8 }));
    // The read before locks the rows; the UPDATE returns the keys of the rows it changed (no read after it).
    expect(sent.statements.map((s) => s.split(' ')[0])).toEqual(['START', 'SELECT', 'WITH', 'COMMIT']);
    expect(sent.statements[2]).toMatch(/^WITH "actionlog_rows" AS \(UPDATE .* RETURNING \/\* actionlog: returned keys \*\//);
  });

  it('takes inserted rows from the INSERT itself, sent alone (no transaction, no read after it), and answers as TypeORM does without actionlog', async () => {
    const rows = [
      { sku: 'n1', name: 'new', price: 4 },
      { sku: 'n2', name: 'new', price: 5 },
    ];
    ds.subscribers.splice(0, ds.subscribers.length);
    const plain = await ds.getRepository(Product).insert(rows.map((r) => ({ ...r, sku: `${r.sku}-plain` })));
    attach();
    await ds.getRepository(Product).insert({ sku: 'warm', name: 'asks its one-time table question', price: 0 });
    let result: InsertResult | undefined;
    sent.statements.length = 0;
    const logs = await logsOf(async () => {
      result = await ds.getRepository(Product).insert(rows);
    });
    expect(logs.map((l) => [l.action, l.model_id, l.model_details.new_object])).toEqual([
      ['Created', 'n1', { sku: 'n1', name: 'new', price: 4 }],
      ['Created', 'n2', { sku: 'n2', name: 'new', price: 5 }],
    ]);
    expect(sent.statements.map((s) => s.split(' ')[0])).toEqual(['INSERT']);
    expect(result!.identifiers).toEqual([{ sku: 'n1' }, { sku: 'n2' }]);
    expect([result!.raw, result!.generatedMaps]).toEqual([plain.raw, plain.generatedMaps]);
  });

  it('takes upserted rows and their old values from the statement itself, sent alone, and answers as TypeORM does without actionlog', async () => {
    await seed();
    const upsert = () =>
      ds.getRepository(Product).upsert(
        [
          { sku: 'a', name: 'tea', price: 1 },
          { sku: 'b', name: 'tea', price: 7 },
          { sku: 'n', name: 'new', price: 8 },
        ],
        ['sku'],
      );
    ds.subscribers.splice(0, ds.subscribers.length);
    const plain = await upsert();
    await ds.getRepository(Product).delete({ sku: 'n' });
    await ds.getRepository(Product).update({ sku: 'b' }, { price: 2 });
    attach();
    await ds.getRepository(Product).insert({ sku: 'warm', name: 'asks its one-time table question', price: 0 });
    let result: InsertResult | undefined;
    sent.statements.length = 0;
    const logs = await logsOf(async () => {
      result = await upsert();
    });
    // 'a' is written as it was: nothing to record.
    expect(logs.map((l) => [l.action, l.model_id, l.model_details.old_object, l.model_details.new_object])).toEqual([
      ['Updated', 'b', { sku: 'b', name: 'tea', price: 2 }, { sku: 'b', name: 'tea', price: 7 }],
      ['Created', 'n', null, { sku: 'n', name: 'new', price: 8 }],
    ]);
    expect(sent.statements.map((s) => s.split(' ')[0])).toEqual(['INSERT']);
    expect([result!.identifiers, result!.raw, result!.generatedMaps]).toEqual([plain.identifiers, plain.raw, plain.generatedMaps]);

    const skipped = await logsOf(() =>
      ds
        .getRepository(Product)
        .createQueryBuilder()
        .insert()
        .values([
          { sku: 'b', name: 'skipped', price: 0 },
          { sku: 'o', name: 'other', price: 9 },
        ])
        .orIgnore()
        .execute(),
    );
    expect(skipped.map((l) => [l.action, l.model_id, l.model_details.old_object])).toEqual([['Created', 'o', null]]);

    attach({ queryWrites: 'readBefore' });
    sent.statements.length = 0;
    const read = await logsOf(() => ds.getRepository(Product).upsert({ sku: 'n', name: 'new', price: 10 }, ['sku']));
    expect(read.map((l) => [l.action, l.model_details.old_object?.price, l.model_details.new_object?.price])).toEqual([['Updated', 8, 10]]);
    // The INSERT returns its rows and whether it updated each (xmax): no read after it.
    expect(sent.statements.map((s) => s.split(' ')[0])).toEqual(['START', ...['SAVEPOINT', 'SELECT', 'RELEASE'], 'INSERT', 'COMMIT']);
    expect(sent.statements[4]).toMatch(/RETURNING .*xmax::text AS "actionlog_xmax"/);
  });

  it('answers update, delete, softDelete and restore exactly as TypeORM does without actionlog', async () => {
    const writes = [
      () => ds.getRepository(Product).update({ name: 'tea' }, { price: 5 }),
      () => ds.getRepository(Product).update({ name: 'none' }, { price: 5 }),
      () => ds.getRepository(Product).delete({ sku: 'c' }),
      () => ds.getRepository(Product).delete({ sku: 'none' }),
      () => ds.getRepository(Ticket).softDelete({ title: 'T' }),
      () => ds.getRepository(Ticket).restore({ title: 'T' }),
      () =>
        ds
          .createQueryBuilder()
          .update(Product)
          .set({ price: () => 'price * 2' })
          .where('price > :p', { p: 1 })
          .execute(),
    ];
    const runAll = async () => {
      await ds.getRepository(Product).clear();
      await ds.getRepository(Ticket).clear();
      await seed();
      await ds.getRepository(Ticket).save([{ title: 'T' }, { title: 'T' }]);
      const results = [];
      for (const write of writes) results.push(await write());
      return results;
    };
    ds.subscribers.splice(0, ds.subscribers.length);
    const without = await runAll();
    attach();
    let withActionlog: unknown[] = [];
    const logs = await logsOf(async () => {
      withActionlog = await runAll();
    });
    expect(withActionlog).toEqual(without);
    expect(logs.filter((l) => l.action !== 'Created').map((l) => [l.action, l.model_id])).toEqual([
      ['Updated', 'a'],
      ['Updated', 'b'],
      ['Deleted', 'c'],
      ['SoftDeleted', expect.any(String)],
      ['SoftDeleted', expect.any(String)],
      ['Restored', expect.any(String)],
      ['Restored', expect.any(String)],
      ['Updated', 'a'],
      ['Updated', 'b'],
    ]);
    // The new state comes from the database: a SQL expression is exact.
    expect(logs.at(-1)!.model_details).toMatchObject({ old_object: { price: 5 }, new_object: { price: 10 }, changed_fields: ['price'] });
  });

  it.each([['auto'], ['readBefore']] as const)(
    'records exact old and new states under concurrent updates of one row (%s)',
    async (queryWrites) => {
      attach({ queryWrites });
      await ds.getRepository(Product).insert({ sku: 'hot', name: 'x', price: 0 });
      const logs = await logsOf(() =>
        Promise.all(
          Array.from({ length: 20 }, () =>
            ds
              .createQueryBuilder()
              .update(Product)
              .set({ price: () => 'price + 1' })
              .where('sku = :s', { s: 'hot' })
              .execute(),
          ),
        ),
      );
      const pairs = logs.map((l) => [l.model_details.old_object!.price, l.model_details.new_object!.price] as [number, number]);
      expect(pairs).toHaveLength(20);
      expect(pairs.every(([before, after]) => after === before + 1)).toBe(true);
      expect(pairs.map(([before]) => before).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    },
  );

  it('returns at most maxDocumentsPerQuery + 1 rows, and counts them all for the summary', async () => {
    attach({ maxDocumentsPerQuery: 2 });
    await ds.getRepository(Product).insert(Array.from({ length: 6 }, (_, i) => ({ sku: `s${i}`, name: 'n', price: i })));
    const logs = await logsOf(() => ds.getRepository(Product).update({ name: 'n' }, { price: 0 }));
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ model_id: null, truncated: true, model_details: { query: { matched: 6 } } });
    expect(sent.statements.at(-1)).toMatch(/LIMIT 3$/);
  });

  it('lets a statement that fails on its own (a constraint) fail once, as without actionlog, and reports nothing', async () => {
    const errors: unknown[] = [];
    const own = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => void errors.push(error) });
    ds.subscribers.splice(0, ds.subscribers.length, sent, new ActionLogSubscriber(own));
    await seed();
    sent.statements.length = 0;
    let thrown: unknown;
    try {
      await own.run({}, () => ds.getRepository(Product).update({ sku: 'a' }, { sku: 'b' }));
    } catch (error) {
      thrown = error;
    }
    await own.close();
    expect(String(thrown)).toMatch(/duplicate key/);
    expect(sent.statements.filter((s) => /^(WITH|UPDATE)/.test(s))).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('keeps the changes of a rolled-back transaction out, and records a committed one', async () => {
    await seed();
    const logs = await logsOf(async () => {
      await ds
        .transaction(async (manager) => {
          await manager.getRepository(Product).update({ sku: 'a' }, { price: 100 });
          throw new Error('roll back');
        })
        .catch(() => {});
      await ds.transaction((manager) => manager.getRepository(Product).update({ sku: 'b' }, { price: 200 }));
    });
    expect(logs.map((l) => [l.action, l.model_id, l.model_details.new_object?.price])).toEqual([['Updated', 'b', 200]]);
  });

  /** A login role with only `grants` on products, its own data source recording through a logger that keeps its errors. */
  async function asRole(
    grants: string,
    options: ActionLogSubscriberOptions,
    body: (role: { source: DataSource; logger: ActionLogger; store: MemoryStore; errors: unknown[] }) => Promise<void>,
  ): Promise<void> {
    const role = `limited_${crypto.randomUUID().slice(0, 8)}`;
    const url = new URL((ds.options as { url: string }).url);
    await ds.query(`CREATE ROLE ${role} LOGIN PASSWORD 'limited'`);
    await ds.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await ds.query(`GRANT ${grants} ON products TO ${role}`);
    url.username = role;
    url.password = 'limited';
    const source = new DataSource({ type: 'postgres', url: url.toString(), entities: TEST_ENTITIES, synchronize: false, logging: false });
    const errors: unknown[] = [];
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => void errors.push(error) });
    try {
      await source.initialize();
      source.subscribers.push(new ActionLogSubscriber(logger, options));
      await body({ source, logger, store, errors });
    } finally {
      await logger.close();
      if (source.isInitialized) await source.destroy();
      await ds.query(`REVOKE ALL ON products FROM ${role}`);
      await ds.query(`REVOKE ALL ON SCHEMA public FROM ${role}`);
      await ds.query(`DROP ROLE ${role}`);
    }
  }

  it.each([['auto'], ['readBefore']] as const)(
    'never fails a write it cannot read (a role with UPDATE but no SELECT on every column): the write runs, unrecorded, and the error is reported (%s)',
    (queryWrites) =>
      asRole('SELECT (sku), UPDATE (price)', { queryWrites }, async ({ source, logger, store, errors }) => {
        await ds.getRepository(Product).insert({ sku: 'p', name: 'pen', price: 1 });
        const result = await logger.run({ requestUuid: 'clerk' }, () => source.getRepository(Product).update({ sku: 'p' }, { price: 5 }));
        await logger.flush();
        expect(result.affected).toBe(1);
        expect((await ds.getRepository(Product).findOneByOrFail({ sku: 'p' })).price).toBe(5);
        expect(String(errors[0])).toMatch(/permission denied/);
        expect(store.requests().find((d) => d.request_uuid === 'clerk')?.details.model_logs).toEqual([]);
      }),
  );

  it('never fails an insert whose rows it may not read back (a role with INSERT but no SELECT on every column): it runs, unrecorded, and the error is reported', () =>
    asRole('SELECT (sku), INSERT', {}, async ({ source, logger, store, errors }) => {
      const result = await logger.run({ requestUuid: 'typist' }, () =>
        source.getRepository(Product).insert({ sku: 't', name: 'typed', price: 1 }),
      );
      await logger.flush();
      expect(result.identifiers).toEqual([{ sku: 't' }]);
      expect(await ds.getRepository(Product).findOneByOrFail({ sku: 't' })).toMatchObject({ name: 'typed', price: 1 });
      expect(String(errors[0])).toMatch(/permission denied/);
      expect(store.requests().find((d) => d.request_uuid === 'typist')?.details.model_logs).toEqual([]);
    }));

  it("asks its one-time table question on the transaction's own connection: a pool of one cannot deadlock", async () => {
    const single = new DataSource({
      type: 'postgres',
      url: (ds.options as { url: string }).url,
      poolSize: 1,
      entities: TEST_ENTITIES,
      logging: false,
    });
    const singleStore = new MemoryStore();
    const singleLogger = createActionLogger({ store: singleStore, flushIntervalMs: 0 });
    try {
      await single.initialize();
      single.subscribers.push(new ActionLogSubscriber(singleLogger));
      await ds.getRepository(Product).insert({ sku: 'one', name: 'pool', price: 1 });
      await singleLogger.run({ requestUuid: 'pool-of-one' }, () =>
        single.transaction((manager) => manager.getRepository(Product).update({ sku: 'one' }, { price: 2 })),
      );
      await singleLogger.flush();
      const doc = singleStore.requests().find((d) => d.request_uuid === 'pool-of-one');
      expect(doc!.details.model_logs.map((l) => [l.action, l.model_details.old_object?.price, l.model_details.new_object?.price])).toEqual([
        ['Updated', 1, 2],
      ]);
    } finally {
      await singleLogger.close();
      if (single.isInitialized) await single.destroy();
    }
  }, 15_000);

  it('reads before the write on a table with rewrite rules, which a WITH statement cannot run', async () => {
    const ruled = await openDatabase('postgres', { entities: TEST_ENTITIES });
    try {
      const other = ruled.dataSource;
      await other.query(`CREATE TABLE product_changes (sku varchar)`);
      await other.query(`CREATE RULE log_price AS ON UPDATE TO products DO ALSO INSERT INTO product_changes VALUES (NEW.sku)`);
      const statements = new StatementLog();
      const ruledStore = new MemoryStore();
      const ruledLogger = createActionLogger({ store: ruledStore, flushIntervalMs: 0 });
      other.subscribers.push(statements, new ActionLogSubscriber(ruledLogger));
      await other.getRepository(Product).insert({ sku: 'r', name: 'ruled', price: 1 });
      await ruledLogger.run({ requestUuid: 'ruled' }, () => other.getRepository(Product).update({ sku: 'r' }, { price: 2 }));
      await ruledLogger.flush();
      const doc = ruledStore.requests().find((d) => d.request_uuid === 'ruled');
      expect(doc!.details.model_logs.map((l) => [l.action, l.model_details.old_object?.price, l.model_details.new_object?.price])).toEqual([
        ['Updated', 1, 2],
      ]);
      expect(statements.statements.some((s) => s.startsWith('WITH'))).toBe(false);
      expect(await other.query('SELECT sku FROM product_changes')).toEqual([{ sku: 'r' }]);
      await ruledLogger.close();
    } finally {
      await ruled.drop();
    }
  });
});
