import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { ActionLogSubscriber, type ActionLogSubscriberOptions } from 'actionlog/typeorm';
import type { DataSource, EntityManager, EntitySubscriberInterface, Logger, QueryRunner } from 'typeorm';
import { openDatabase, type SqlDatabase } from '../../support/sql.js';
import { Order, Product, TEST_ENTITIES } from '../../support/typeorm-entities.js';
import { asObject, readState, replay } from './database-state.js';

/*
 * Writes run side by side (Promise.all) in ONE transaction: node-postgres queues their statements on the one
 * connection, so the statements of the captures interleave. Each write must be recorded exactly once, as the rows
 * it changed were and became; and what commits must be what is recorded, also when one write's read fails (a
 * lock timeout) and the caller catches it and commits the rest.
 */

const RUNS: Array<[string, ActionLogSubscriberOptions]> = [
  ['postgres', {}],
  ['postgres, reading before query-level writes', { queryWrites: 'readBefore' }],
];

const TABLES = [Product, Order];

describe.each(RUNS)('TypeORM writes side by side in one transaction on %s', (_name, options) => {
  let db: SqlDatabase;
  let ds: DataSource;
  let store: MemoryStore;
  let logger: ActionLogger;
  const errors: Error[] = [];
  /** The statements sent on the transaction's runner (and their failures), for the failure messages. */
  const statements: string[] = [];
  let watched: QueryRunner | undefined;

  beforeAll(async () => {
    db = await openDatabase('postgres', { entities: TEST_ENTITIES });
    ds = db.dataSource;
    const log: Logger = {
      logQuery: (query, _parameters, runner) => {
        if (runner && runner === watched) statements.push(query.replace(/\s+/g, ' ').slice(0, 140));
      },
      logQueryError: (error, query, _parameters, runner) => {
        if (runner && runner === watched)
          statements.push(`FAILED ${query.replace(/\s+/g, ' ').slice(0, 80)}: ${String((error as { code?: string }).code ?? error)}`);
      },
      logQuerySlow: () => {},
      logSchemaBuild: () => {},
      logMigration: () => {},
      log: () => {},
    };
    (ds as unknown as { logger: Logger }).logger = log;
  });
  afterAll(async () => {
    await db.drop();
  });

  beforeEach(async () => {
    ds.subscribers.splice(0, ds.subscribers.length);
    for (const entity of TABLES) await ds.getRepository(entity).createQueryBuilder().delete().execute();
    errors.length = 0;
    statements.length = 0;
    watched = undefined;
    store = new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => void errors.push(error) });
    ds.subscribers.push(new ActionLogSubscriber(logger, options));
  });
  const opened: QueryRunner[] = [];
  afterEach(async () => {
    for (const runner of opened.splice(0)) {
      if (runner.isReleased) continue;
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
    await logger.close();
  });

  async function allLogs(): Promise<ModelLog[]> {
    await logger.flush();
    return store
      .requests()
      .filter((d) => d.request_uuid === 'tx')
      .flatMap((d) => d.details.model_logs);
  }

  /** The logs, replayed over `before` in the order recorded, must give the rows now stored. */
  async function expectExact(before: Awaited<ReturnType<typeof readState>>, logs: ModelLog[]): Promise<void> {
    const after = await readState(ds, TABLES);
    const { state, problems } = replay(before, logs);
    const trace = `statements on the transaction's connection:\n  ${statements.join('\n  ')}`;
    expect(problems, trace).toEqual([]);
    expect(asObject(state), trace).toEqual(asObject(after));
  }

  /** A transaction on a connection of its own holding a row lock on product `sku` until rolled back. */
  async function lockProduct(sku: string): Promise<QueryRunner> {
    const runner = ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    opened.push(runner);
    await runner.query(`SELECT * FROM products WHERE sku = $1 FOR UPDATE`, [sku]);
    return runner;
  }

  /** Runs `work` in a transaction whose statements are logged, in a scope of its own. */
  function inTransaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return logger.run({ requestUuid: 'tx' }, () =>
      ds.transaction(async (m) => {
        watched = m.queryRunner;
        return work(m);
      }),
    );
  }

  const products = () => ds.getRepository(Product);
  const seed = async (n: number) => {
    for (let i = 1; i <= n; i++) await products().insert({ sku: `p${i}`, name: `n${i}`, price: i });
  };

  it('updates, a delete, a save and an upsert of different rows side by side: each recorded once, exactly', async () => {
    await seed(5);
    const before = await readState(ds, TABLES);
    await inTransaction((m) =>
      Promise.all([
        m.update(Product, { sku: 'p1' }, { price: 10 }),
        m.update(Product, { sku: 'p2' }, { name: 'two' }),
        m.delete(Product, { sku: 'p3' }),
        m.getRepository(Product).save({ sku: 'p4', name: 'four', price: 40 }),
        m.upsert(Product, { sku: 'p5', name: 'five', price: 50 }, ['sku']),
        m.upsert(Product, { sku: 'p6', name: 'six', price: 60 }, ['sku']),
      ]),
    );
    const logs = await allLogs();
    expect(logs.map((l) => `${l.action} ${String(l.model_id)}`).sort()).toEqual([
      'Created p6',
      'Deleted p3',
      'Updated p1',
      'Updated p2',
      'Updated p4',
      'Updated p5',
    ]);
    await expectExact(before, logs);
    expect(errors.map(String)).toEqual([]);
  });

  it('two query-level updates of the same row side by side: the second old_object is the first new_object', async () => {
    await seed(1);
    const before = await readState(ds, TABLES);
    await inTransaction((m) =>
      Promise.all([m.update(Product, { sku: 'p1' }, { price: 10 }), m.update(Product, { sku: 'p1' }, { name: 'one' })]),
    );
    const logs = await allLogs();
    expect(logs).toHaveLength(2);
    await expectExact(before, logs);
    expect(errors.map(String)).toEqual([]);
  });

  it('a save() and a query-level update of the same row side by side: both recorded exactly', async () => {
    await seed(1);
    const before = await readState(ds, TABLES);
    await inTransaction((m) =>
      Promise.all([m.getRepository(Product).save({ sku: 'p1', name: 'saved', price: 1 }), m.update(Product, { sku: 'p1' }, { price: 10 })]),
    );
    const logs = await allLogs();
    expect(logs).toHaveLength(2);
    await expectExact(before, logs);
    expect(errors.map(String)).toEqual([]);
  });

  it('a query-level update and a save() of the same row side by side: both recorded exactly', async () => {
    await seed(1);
    const before = await readState(ds, TABLES);
    await inTransaction((m) =>
      Promise.all([m.update(Product, { sku: 'p1' }, { price: 10 }), m.getRepository(Product).save({ sku: 'p1', name: 'saved', price: 1 })]),
    );
    const logs = await allLogs();
    await expectExact(before, logs);
    expect(errors.map(String)).toEqual([]);
  });

  it('an upsert and an update of the same row side by side: both recorded exactly', async () => {
    await seed(1);
    const before = await readState(ds, TABLES);
    await inTransaction((m) =>
      Promise.all([m.upsert(Product, { sku: 'p1', name: 'up', price: 5 }, ['sku']), m.update(Product, { sku: 'p1' }, { price: 10 })]),
    );
    const logs = await allLogs();
    await expectExact(before, logs);
    expect(errors.map(String)).toEqual([]);
  });

  /*
   * One write among several meets a row another transaction holds locked, and times out (lock_timeout); the caller
   * catches its error and commits the rest. Whatever committed must be what is recorded.
   */
  const shapes: Array<[string, string, (m: EntityManager) => Array<Promise<unknown>>]> = [
    [
      'the locked update first',
      'p2',
      (m) => [
        m.update(Product, { sku: 'p2' }, { price: 20 }),
        m.update(Product, { sku: 'p1' }, { price: 10 }),
        m.update(Product, { sku: 'p3' }, { price: 30 }),
      ],
    ],
    [
      'the locked update in the middle',
      'p2',
      (m) => [
        m.update(Product, { sku: 'p1' }, { price: 10 }),
        m.update(Product, { sku: 'p2' }, { price: 20 }),
        m.update(Product, { sku: 'p3' }, { price: 30 }),
      ],
    ],
    [
      'the locked update last',
      'p2',
      (m) => [
        m.update(Product, { sku: 'p1' }, { price: 10 }),
        m.update(Product, { sku: 'p3' }, { price: 30 }),
        m.update(Product, { sku: 'p2' }, { price: 20 }),
      ],
    ],
    [
      'a delete locked, with updates and a save',
      'p2',
      (m) => [
        m.update(Product, { sku: 'p1' }, { price: 10 }),
        m.delete(Product, { sku: 'p2' }),
        m.getRepository(Product).save({ sku: 'p3', name: 'three', price: 30 }),
        m.update(Product, { sku: 'p4' }, { name: 'four' }),
      ],
    ],
    [
      'a save locked, with updates',
      'p2',
      (m) => [
        m.update(Product, { sku: 'p1' }, { price: 10 }),
        m.getRepository(Product).save({ sku: 'p2', name: 'two', price: 20 }),
        m.update(Product, { sku: 'p3' }, { price: 30 }),
      ],
    ],
    [
      'an upsert locked, with updates',
      'p2',
      (m) => [
        m.update(Product, { sku: 'p1' }, { price: 10 }),
        m.upsert(Product, { sku: 'p2', name: 'two', price: 20 }, ['sku']),
        m.update(Product, { sku: 'p3' }, { price: 30 }),
      ],
    ],
  ];
  /** `k` statements of the caller's own, then `work`: starts `work` k statements later on the connection. */
  const after = (m: EntityManager, k: number, work: () => Promise<unknown>): Promise<unknown> =>
    Array.from({ length: k })
      .reduce<Promise<unknown>>((p, _, i) => p.then(() => m.query(`SELECT ${String(i)}`)), Promise.resolve())
      .then(work);
  shapes.push(
    [
      // Its SAVEPOINT comes after the other's RELEASE, before the other's UPDATE: its ROLLBACK TO undoes that UPDATE.
      'the locked update started 2 statements after an update of another row',
      'p2',
      (m) => [m.update(Product, { sku: 'p1' }, { price: 10 }), after(m, 2, () => m.update(Product, { sku: 'p2' }, { price: 20 }))],
    ],
    [
      'an update started 1 statement after the locked one',
      'p2',
      (m) => [m.update(Product, { sku: 'p2' }, { price: 20 }), after(m, 1, () => m.update(Product, { sku: 'p1' }, { price: 10 }))],
    ],
    [
      // Its failure aborts the upsert's read after the INSERT ... ON CONFLICT, which committed.
      'the locked update started 3 statements after an upsert of another row',
      'p2',
      (m) => [
        m.upsert(Product, { sku: 'p1', name: 'one', price: 10 }, ['sku']),
        after(m, 3, () => m.update(Product, { sku: 'p2' }, { price: 20 })),
      ],
    ],
  );

  for (const [label, locked, writes] of shapes) {
    it(`lock timeout of one write side by side (${label}), the rest committed: what committed is what is recorded`, async () => {
      await seed(4);
      const before = await readState(ds, TABLES);
      await lockProduct(locked);
      let outcomes: Array<PromiseSettledResult<unknown>> = [];
      const committed = await inTransaction(async (m) => {
        await m.query(`SET LOCAL lock_timeout = '50ms'`);
        outcomes = await Promise.allSettled(writes(m));
        return true;
      }).catch((e: unknown) => e);
      statements.push(`(transaction() gave ${committed === true ? 'commit' : String(committed)})`);
      statements.push(
        `(outcomes: ${outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : String((o.reason as { code?: string }).code ?? o.reason))).join(', ')})`,
      );
      const logs = await allLogs();
      statements.push(`(logs: ${logs.map((l) => `${l.action} ${String(l.model_id)}`).join(', ')})`);
      statements.push(`(errors reported: ${errors.map(String).join('; ')})`);
      await expectExact(before, logs);
      // Only the lock timeout itself, which is the caller's.
      expect(errors.map(String).filter((e) => !/lock timeout/.test(e))).toEqual([]);
    });
  }

  it("an app's subscriber writing in afterUpdate of a query-level update, in the transaction: runs, and both are recorded", async () => {
    await seed(2);
    const before = await readState(ds, TABLES);
    // Its save runs while the update's capture is under way on the same connection: queued behind it, it would wait
    // for the capture that waits for it.
    const onUpdate: EntitySubscriberInterface<Product> = {
      listenTo: () => Product,
      afterUpdate: async (event) => {
        if (event.queryRunner.isTransactionActive) await event.manager.getRepository(Order).save({ status: 'repriced', total: 1 });
      },
    };
    ds.subscribers.push(onUpdate);
    await inTransaction((m) =>
      Promise.all([m.update(Product, { sku: 'p1' }, { price: 10 }), m.update(Product, { sku: 'p2' }, { price: 20 })]),
    );
    const logs = await allLogs();
    expect(logs.map((l) => `${l.action} ${l.model}`).sort()).toEqual([
      'Created orders',
      'Created orders',
      'Updated products',
      'Updated products',
    ]);
    await expectExact(before, logs);
    expect(errors.map(String)).toEqual([]);
  });
});
