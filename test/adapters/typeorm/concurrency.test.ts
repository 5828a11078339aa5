import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { ActionLogSubscriber, type ActionLogSubscriberOptions } from 'actionlog/typeorm';
import {
  DataSource,
  type DataSourceOptions,
  type EntityManager,
  type EntitySubscriberInterface,
  type Logger,
  MoreThan,
  type QueryRunner,
} from 'typeorm';
import { openDatabase, type SqlDatabase } from '../../support/sql.js';
import { Order, Product, TEST_ENTITIES } from '../../support/typeorm-entities.js';
import { asObject, readState, replay } from './database-state.js';

/*
 * Exactness under concurrency: two connections change the same rows, the database orders their changes, and the
 * model logs of both, taken in that order and replayed over the rows before them, must give the rows after them
 * (each change's old_object the previous change's new_object). The interleavings are made certain, not left to
 * chance: the other connection holds a row lock until the write under test is seen waiting for it on the server.
 */

const RUNS: Array<[string, ActionLogSubscriberOptions]> = [
  ['postgres', {}],
  ['postgres, reading before query-level writes', { queryWrites: 'readBefore' }],
];

const TABLES = [Product, Order];

describe.each(RUNS)('TypeORM exactness under concurrent transactions on %s', (_name, options) => {
  let db: SqlDatabase;
  let ds: DataSource;
  let store: MemoryStore;
  let logger: ActionLogger;
  const errors: Error[] = [];

  beforeAll(async () => {
    db = await openDatabase('postgres', { entities: TEST_ENTITIES });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await db.drop();
  });

  beforeEach(async () => {
    ds.subscribers.splice(0, ds.subscribers.length);
    for (const entity of TABLES) await ds.getRepository(entity).createQueryBuilder().delete().execute();
    errors.length = 0;
    store = new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => void errors.push(error) });
    ds.subscribers.push(new ActionLogSubscriber(logger, options));
  });
  const opened: QueryRunner[] = [];
  afterEach(async () => {
    // A test that failed half-way leaves its other transaction open, holding locks the next test would wait for.
    for (const runner of opened.splice(0)) {
      if (runner.isReleased) continue;
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
    await logger.close();
    expect(errors.map(String)).toEqual([]);
  });

  /** The model logs of the scopes named `name` (their request uuid), in the order recorded. */
  async function logsBy(name: string): Promise<ModelLog[]> {
    await logger.flush();
    return store
      .requests()
      .filter((d) => d.request_uuid === name)
      .flatMap((d) => d.details.model_logs);
  }

  /** Runs `fn` in a scope of its own named `name` (not awaited here). */
  const scope = <T>(name: string, fn: () => Promise<T>) => logger.run({ requestUuid: name }, fn);

  /** A transaction on a connection of its own, left open: the caller commits or rolls it back. */
  async function openTransaction(level?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE'): Promise<QueryRunner> {
    const runner = ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction(level);
    opened.push(runner);
    return runner;
  }

  /** Waits until a statement matching `pattern` waits for a lock on the server. */
  async function waitingOnLock(pattern: string): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const rows: unknown[] = await ds.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`,
        [pattern],
      );
      if (rows.length > 0) return;
      await sleep(10);
    }
    throw new Error(`no statement like ${pattern} waited for a lock`);
  }

  /**
   * Runs `write` in a scope named `name` while another transaction, once `theirs` has run in it (scope `other`), holds
   * what the write needs; commits that transaction once a statement like `lock` waits on the server.
   */
  async function whileAnotherCommits<T>(
    theirs: (other: QueryRunner) => Promise<unknown>,
    name: string,
    write: () => Promise<T>,
    lock: string,
  ): Promise<T> {
    const other = await openTransaction();
    await scope('other', () => theirs(other));
    const writing = scope(name, write);
    await waitingOnLock(lock);
    await scope('other', () => other.commitTransaction());
    await other.release();
    return writing;
  }

  /** The logs in the order the database applied them, replayed over `before`, must give the rows now stored. */
  async function expectExact(before: Awaited<ReturnType<typeof readState>>, logs: ModelLog[], message?: string): Promise<void> {
    const after = await readState(ds, TABLES);
    const { state, problems } = replay(before, logs);
    expect(problems, message).toEqual([]);
    expect(asObject(state), message).toEqual(asObject(after));
  }

  const products = () => ds.getRepository(Product);

  it('upsert() of a row another transaction updates meanwhile: old_object is the row it updated', async () => {
    await products().insert({ sku: 'p1', name: 'first', price: 1 });
    const before = await readState(ds, TABLES);
    // The other writer has changed the row, not committed yet. The upsert meets the row, and waits for the other
    // writer's lock (its read before, or the INSERT itself).
    await whileAnotherCommits(
      (other) => other.manager.update(Product, { sku: 'p1' }, { price: 2 }),
      'upsert',
      () => products().upsert({ sku: 'p1', name: 'second', price: 3 }, ['sku']),
      '%products%',
    );

    const [changed] = await logsBy('other');
    const [upserted] = await logsBy('upsert');
    expect(changed?.model_details.new_object).toMatchObject({ sku: 'p1', name: 'first', price: 2 });
    expect(upserted?.action).toBe('Updated');
    // It updated the row as the other writer left it (price 2), not as it was before the other writer (price 1).
    expect(upserted?.model_details.old_object).toEqual({ sku: 'p1', name: 'first', price: 2 });
    await expectExact(before, [changed!, upserted!]);
  });

  // With 'readBefore' (as before PostgreSQL 18) the row is not there to read before the upsert, which then waits for
  // the other insert and updates it: its state before is read once the upsert has run, as committed.
  it('upsert() of a row another transaction inserts meanwhile: Updated, its old_object the inserted row', async () => {
    const before = await readState(ds, TABLES);
    await whileAnotherCommits(
      (other) => other.manager.insert(Product, { sku: 'p2', name: 'theirs', price: 5 }),
      'upsert',
      () => products().upsert({ sku: 'p2', name: 'ours', price: 6 }, ['sku']),
      '%INSERT INTO%products%',
    );

    const [created] = await logsBy('other');
    const [upserted] = await logsBy('upsert');
    expect(created?.action).toBe('Created');
    // The upsert found the row the other writer inserted and updated it: not a second creation.
    expect(upserted?.action).toBe('Updated');
    expect(upserted?.model_details.old_object).toEqual({ sku: 'p2', name: 'theirs', price: 5 });
    await expectExact(before, [created!, upserted!]);
  });

  it("upsert() of a row another transaction inserts meanwhile, in a tenant's schema set by search_path: its old_object from that schema", async () => {
    await ds.query('CREATE SCHEMA IF NOT EXISTS tenant_x');
    await ds.query('CREATE TABLE IF NOT EXISTS tenant_x.products (LIKE public.products INCLUDING ALL)');
    await ds.query('TRUNCATE tenant_x.products');
    // The same key in the default schema, with other values: a read there would give a wrong old_object.
    await products().insert({ sku: 'p9', name: 'public', price: 1 });
    const tenant = async () => {
      const runner = await openTransaction();
      await runner.query('SET LOCAL search_path TO tenant_x, public');
      return runner;
    };
    const other = await tenant();
    await scope('other', () => other.manager.insert(Product, { sku: 'p9', name: 'theirs', price: 5 }));
    const mine = await tenant();
    const upsert = scope('upsert', () => mine.manager.upsert(Product, { sku: 'p9', name: 'ours', price: 6 }, ['sku']));
    await waitingOnLock('%INSERT INTO%products%');
    await scope('other', () => other.commitTransaction());
    await upsert;
    await scope('upsert', () => mine.commitTransaction());

    const [upserted] = await logsBy('upsert');
    expect([upserted?.action, upserted?.model_details.old_object]).toEqual(['Updated', { sku: 'p9', name: 'theirs', price: 5 }]);
  });

  it.runIf(options.queryWrites === 'readBefore')(
    'upsert() of a row another transaction inserts meanwhile, on a pool of one connection: reported at once, the upsert commits',
    async () => {
      const one = new DataSource({ ...ds.options, poolSize: 1, synchronize: false } as DataSourceOptions);
      await one.initialize();
      try {
        one.subscribers.push(new ActionLogSubscriber(logger, options));
        const other = await openTransaction();
        await scope('other', () => other.manager.insert(Product, { sku: 'p8', name: 'theirs', price: 5 }));
        const mine = one.createQueryRunner();
        await mine.connect();
        await mine.startTransaction();
        const upsert = scope('upsert', () => mine.manager.upsert(Product, { sku: 'p8', name: 'ours', price: 6 }, ['sku']));
        await waitingOnLock('%INSERT INTO%products%');
        await scope('other', () => other.commitTransaction());
        await upsert;
        await scope('upsert', () => mine.commitTransaction());
        await mine.release();

        expect(await products().findOneBy({ sku: 'p8' })).toMatchObject({ name: 'ours', price: 6 });
        // Its state before could not be read (the pool's one connection is the upsert's): left out, and said so.
        expect(await logsBy('upsert')).toEqual([]);
        expect(errors.splice(0).map(String)).toEqual([
          'ActionLogError: actionlog could not read the states before of 1 row(s) an upsert into Product updated, inserted by another transaction after the read before it: they are not recorded (the pool has one connection, held by this transaction)',
        ]);
      } finally {
        await one.destroy();
      }
    },
  );

  // The server ends a session idle in a transaction for 1 s, or a transaction after 3 s: the upsert's, were the read
  // of its state before to wait its usual 10 s.
  it.runIf(options.queryWrites === 'readBefore').for([`idle_in_transaction_session_timeout = '1s'`, `transaction_timeout = '3s'`])(
    'upsert() of a row another transaction inserts meanwhile, its state before held up by a lock, with %s: reported in time, the upsert commits',
    async (setting, { skip }) => {
      // transaction_timeout came with PostgreSQL 17.
      if (setting.startsWith('transaction_timeout') && Number.parseFloat(ds.driver.version ?? '0') < 17) skip();
      const other = await openTransaction();
      await scope('other', () => other.manager.insert(Product, { sku: 'p7', name: 'theirs', price: 5 }));
      const mine = await openTransaction();
      await mine.query(`SET LOCAL ${setting}`);
      const upsert = scope('upsert', () => mine.manager.upsert(Product, { sku: 'p7', name: 'ours', price: 6 }, ['sku']));
      await waitingOnLock('%INSERT INTO%products%');
      // A lock queued behind the upsert's: the read on another connection waits behind it until the upsert's
      // transaction ends.
      const locker = await openTransaction();
      const locking = locker.query('LOCK TABLE products IN ACCESS EXCLUSIVE MODE');
      await waitingOnLock('LOCK TABLE%');
      await scope('other', () => other.commitTransaction());
      await upsert;
      await scope('upsert', () => mine.commitTransaction());
      await locking;
      await locker.rollbackTransaction();

      expect(await products().findOneBy({ sku: 'p7' })).toMatchObject({ name: 'ours', price: 6 });
      expect(await logsBy('upsert')).toEqual([]);
      const reported = errors.splice(0).map(String);
      expect(reported).toHaveLength(1);
      expect(reported[0]).toMatch(
        /^ActionLogError: actionlog could not read the states before of 1 row\(s\) an upsert into Product updated, inserted by another transaction after the read before it: they are not recorded \(not read within \d+ ms, half of what the server lets the transaction idle or last/,
      );
    },
  );

  it('upsert() in a transaction that deleted the row first: Created, though the row stays committed until then', async () => {
    await products().insert({ sku: 'p5', name: 'old', price: 1 });
    const before = await readState(ds, TABLES);
    const mine = await openTransaction();
    await scope('mine', async () => {
      await mine.manager.delete(Product, { sku: 'p5' });
      await mine.manager.upsert(Product, { sku: 'p5', name: 'new', price: 2 }, ['sku']);
      await mine.commitTransaction();
    });

    const [deleted, upserted] = await logsBy('mine');
    expect(deleted?.action).toBe('Deleted');
    // Outside the transaction the deleted row still reads as committed: the upsert inserted anew all the same.
    expect(upserted?.action).toBe('Created');
    expect(upserted?.model_details.old_object).toBeNull();
    await expectExact(before, [deleted!, upserted!]);
  });
  it('upsert() in a SERIALIZABLE transaction of a row another transaction inserts meanwhile: fails, nothing recorded', async () => {
    const before = await readState(ds, TABLES);
    const other = await openTransaction();
    await scope('other', () => other.manager.insert(Product, { sku: 'p4', name: 'theirs', price: 5 }));
    const mine = await openTransaction('SERIALIZABLE');
    const upsert = scope('upsert', () => mine.manager.upsert(Product, { sku: 'p4', name: 'ours', price: 6 }, ['sku'])).then(
      () => undefined,
      (e: unknown) => e as { driverError?: { code?: string } },
    );
    await waitingOnLock('%products%');
    await scope('other', () => other.commitTransaction());
    // The database refuses the upsert rather than update a row its snapshot cannot see: the caller retries.
    expect((await upsert)?.driverError?.code).toBe('40001');
    await scope('upsert', () => mine.rollbackTransaction());

    expect(await logsBy('upsert')).toEqual([]);
    await expectExact(before, await logsBy('other'));
  });

  it('insert().orIgnore() of a row another transaction updates meanwhile: it changed nothing, nothing recorded', async () => {
    await products().insert({ sku: 'p3', name: 'kept', price: 1 });
    const before = await readState(ds, TABLES);
    // The insert meets the row, waits for the other writer, and skips it.
    await whileAnotherCommits(
      (other) => other.manager.update(Product, { sku: 'p3' }, { price: 2 }),
      'ignore',
      () => products().createQueryBuilder().insert().values({ sku: 'p3', name: 'skipped', price: 9 }).orIgnore().execute(),
      '%products%',
    );

    const changed = await logsBy('other');
    // The other writer's change is its own: the skipped insert changed nothing.
    expect(await logsBy('ignore')).toEqual([]);
    await expectExact(before, changed);
  });

  it('insert().orIgnore() of a row another transaction inserts meanwhile: it changed nothing, nothing recorded', async () => {
    const before = await readState(ds, TABLES);
    await whileAnotherCommits(
      (other) => other.manager.insert(Product, { sku: 'p7', name: 'theirs', price: 5 }),
      'ignore',
      () => products().createQueryBuilder().insert().values({ sku: 'p7', name: 'skipped', price: 9 }).orIgnore().execute(),
      '%INSERT INTO%products%',
    );

    expect(await logsBy('ignore')).toEqual([]);
    await expectExact(before, await logsBy('other'));
  });

  /**
   * The other writer's change that brings `late` into a write's conditions (total > 5) and changes `locked`,
   * holding its lock: the write, whose read before finds `locked` alone, waits for it.
   */
  const bringInto = (late: Order, locked: Order) => async (other: QueryRunner) => {
    await other.manager.update(Order, { id: late.id }, { total: 20 });
    await other.manager.update(Order, { id: locked.id }, { status: 'held' });
  };

  it('update() by criteria past maxDocumentsPerQuery only with the row brought into the match: one summary of them all', async () => {
    ds.subscribers.splice(0, ds.subscribers.length, new ActionLogSubscriber(logger, { ...options, maxDocumentsPerQuery: 1 }));
    const orders = ds.getRepository(Order);
    const late = await orders.save(orders.create({ status: 'a', total: 1 }));
    const locked = await orders.save(orders.create({ status: 'b', total: 10 }));
    const result = await whileAnotherCommits(
      bringInto(late, locked),
      'update',
      () => orders.update({ total: MoreThan(5) }, { status: 'shipped' }),
      '%orders%',
    );

    const logs = (await logsBy('update')).map((l) => [l.action, l.model_id, l.truncated ?? false, l.model_details.query?.matched]);
    // Reading before: 2 rows changed, past the limit of 1 only with the row brought in. One statement alone
    // (PostgreSQL 18) changes the one row it waited for.
    if (options.queryWrites === 'readBefore') expect([result.affected, logs]).toEqual([2, [['Updated', null, true, 2]]]);
    else expect([result.affected, logs]).toEqual([1, [['Updated', String(locked.id), false, undefined]]]);
  });

  it.each(['update', 'delete'] as const)(
    '%s() by criteria while another transaction brings a row into the match: every row it changed is recorded',
    async (write) => {
      const orders = ds.getRepository(Order);
      // Stored first, so that the other writer's new version of it comes after the row the write waits for.
      const late = await orders.save(orders.create({ status: 'a', total: 1 }));
      const locked = await orders.save(orders.create({ status: 'b', total: 10 }));
      const before = await readState(ds, TABLES);
      const result = await whileAnotherCommits(
        bringInto(late, locked),
        write,
        async (): Promise<{ affected?: number | null }> =>
          write === 'update' ? orders.update({ total: MoreThan(5) }, { status: 'shipped' }) : orders.delete({ total: MoreThan(5) }),
        '%orders%',
      );

      const otherLogs = await logsBy('other');
      const writeLogs = await logsBy(write);
      // With 'readBefore' the read and the write are two statements, each seeing what committed when it started: the
      // row brought into the match in between is written too (2 rows) and returned by the statement; an updated one's
      // state before is read as committed. One statement alone (PostgreSQL 18) writes only the row it waited for.
      expect(result.affected).toBe(options.queryWrites === 'readBefore' ? 2 : 1);
      expect(writeLogs).toHaveLength(result.affected!);
      const left = await orders.find();
      const written =
        write === 'update' ? left.filter((o) => o.status === 'shipped') : [late, locked].filter((o) => !left.some((l) => l.id === o.id));
      expect(writeLogs.map((l) => l.model_id).sort()).toEqual(written.map((o) => String(o.id)).sort());
      await expectExact(before, [...otherLogs, ...writeLogs]);
    },
  );

  it('update() by criteria whose read before it loses a deadlock: the write that commits is recorded', async () => {
    const orders = ds.getRepository(Order);
    const first = await orders.save(orders.create({ status: 'a', total: 10 }));
    const second = await orders.save(orders.create({ status: 'b', total: 10 }));
    const before = await readState(ds, TABLES);
    const other = await openTransaction();
    await scope('other', () => other.manager.update(Order, { id: second.id }, { status: 'theirs' }));
    // Locks the first row, then waits for the second.
    const update = scope('update', () => orders.update({ total: MoreThan(5) }, { status: 'shipped' })).then(
      (r) => r.affected,
      (e: unknown) => e,
    );
    await waitingOnLock('%orders%');
    // The other writer now waits for the first row: a deadlock, which PostgreSQL breaks by failing the statement
    // that waited first, after deadlock_timeout (1 s).
    await scope('other', () => other.manager.update(Order, { id: first.id }, { total: 11 }));
    await scope('other', () => other.commitTransaction());
    await other.release();
    const outcome = await update;

    const otherLogs = await logsBy('other');
    const updateLogs = await logsBy('update');
    const shipped = await orders.findBy({ status: 'shipped' });
    // Whichever statement lost the deadlock: what the update applied is what it recorded.
    expect(updateLogs.map((l) => l.model_id).sort()).toEqual(shipped.map((o) => String(o.id)).sort());
    await expectExact(before, [...otherLogs, ...updateLogs]);
    if (typeof outcome === 'number') expect(updateLogs).toHaveLength(outcome);
    // A deadlock is the caller's to retry, not a failure of actionlog's.
    errors.length = 0;
  });

  it('a SERIALIZABLE transaction whose COMMIT fails records nothing; the one that committed is recorded', async () => {
    const orders = ds.getRepository(Order);
    const a = await orders.save(orders.create({ status: 'a', total: 1 }));
    const b = await orders.save(orders.create({ status: 'b', total: 1 }));
    const before = await readState(ds, TABLES);
    const first = await openTransaction('SERIALIZABLE');
    const second = await openTransaction('SERIALIZABLE');
    // Write skew: each reads both rows, then changes one.
    await first.manager.find(Order);
    await second.manager.find(Order);
    await scope('first', () => first.manager.update(Order, { id: a.id }, { total: 2 }));
    await scope('second', async () => {
      const row = (await second.manager.findOneBy(Order, { id: b.id }))!;
      row.total = 2;
      await second.manager.save(row);
    });
    await scope('first', () => first.commitTransaction());
    const failure = await scope('second', () => second.commitTransaction()).then(
      () => undefined,
      (e: unknown) => e as { code?: string; driverError?: { code?: string } },
    );
    expect(failure?.driverError?.code ?? failure?.code).toBe('40001');
    await scope('second', () => second.rollbackTransaction());
    await first.release();
    await second.release();

    expect(await logsBy('second')).toEqual([]);
    await expectExact(before, await logsBy('first'));
  });

  it('REPEATABLE READ transactions retried after a serialization failure: each change recorded once, in order', async () => {
    const orders = ds.getRepository(Order);
    const row = await orders.save(orders.create({ status: 'a', total: 0 }));
    const before = await readState(ds, TABLES);
    /** Adds one to the row's total in a REPEATABLE READ transaction, retried on serialization failures. */
    const addOne = async (between?: () => Promise<void>) => {
      for (let attempt = 0; ; attempt++) {
        try {
          await ds.transaction('REPEATABLE READ', async (manager) => {
            const loaded = (await manager.findOneBy(Order, { id: row.id }))!;
            if (attempt === 0) await between?.();
            loaded.total += 1;
            await manager.save(loaded);
          });
          return attempt;
        } catch (error) {
          if ((error as { driverError?: { code?: string } }).driverError?.code !== '40001' || attempt > 3) throw error;
        }
      }
    };
    // The first transaction reads, the second commits meanwhile: the first fails and runs again.
    const attempts = await scope('first', () => addOne(() => scope('second', () => addOne().then(() => {}))));
    expect(attempts).toBe(1);
    const second = await logsBy('second');
    const first = await logsBy('first');
    expect([...second, ...first].map((l) => [l.model_details.old_object?.total, l.model_details.new_object?.total])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    await expectExact(before, [...second, ...first]);
  });

  describe('writes side by side in one transaction', () => {
    /*
     * Writes run side by side (Promise.all) in ONE transaction: node-postgres queues their statements on the one
     * connection, so the statements of the captures interleave. Each write must be recorded exactly once, as the rows
     * it changed were and became; and what commits must be what is recorded, also when one write's read fails (a
     * lock timeout) and the caller catches it and commits the rest.
     */

    /** The statements sent on the transaction's runner (and their failures), for the failure messages. */
    const statements: string[] = [];
    let watched: QueryRunner | undefined;
    const trace = () => `statements on the transaction's connection:\n  ${statements.join('\n  ')}`;
    beforeAll(() => {
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
    beforeEach(() => {
      statements.length = 0;
      watched = undefined;
    });

    /** A transaction on a connection of its own holding a row lock on product `sku` until rolled back. */
    async function lockProduct(sku: string): Promise<QueryRunner> {
      const runner = await openTransaction();
      await runner.query(`SELECT * FROM products WHERE sku = $1 FOR UPDATE`, [sku]);
      return runner;
    }

    /** Runs `work` in a transaction whose statements are logged, in a scope of its own named `tx`. */
    function inTransaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
      return scope('tx', () =>
        ds.transaction(async (m) => {
          watched = m.queryRunner;
          return work(m);
        }),
      );
    }

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
      const logs = await logsBy('tx');
      expect(logs.map((l) => `${l.action} ${String(l.model_id)}`).sort()).toEqual([
        'Created p6',
        'Deleted p3',
        'Updated p1',
        'Updated p2',
        'Updated p4',
        'Updated p5',
      ]);
      await expectExact(before, logs, trace());
      expect(errors.map(String)).toEqual([]);
    });

    it('two query-level updates of the same row side by side: the second old_object is the first new_object', async () => {
      await seed(1);
      const before = await readState(ds, TABLES);
      await inTransaction((m) =>
        Promise.all([m.update(Product, { sku: 'p1' }, { price: 10 }), m.update(Product, { sku: 'p1' }, { name: 'one' })]),
      );
      const logs = await logsBy('tx');
      expect(logs).toHaveLength(2);
      await expectExact(before, logs, trace());
      expect(errors.map(String)).toEqual([]);
    });

    it('a save() and a query-level update of the same row side by side: both recorded exactly', async () => {
      await seed(1);
      const before = await readState(ds, TABLES);
      await inTransaction((m) =>
        Promise.all([
          m.getRepository(Product).save({ sku: 'p1', name: 'saved', price: 1 }),
          m.update(Product, { sku: 'p1' }, { price: 10 }),
        ]),
      );
      const logs = await logsBy('tx');
      expect(logs).toHaveLength(2);
      await expectExact(before, logs, trace());
      expect(errors.map(String)).toEqual([]);
    });

    it('a query-level update and a save() of the same row side by side: both recorded exactly', async () => {
      await seed(1);
      const before = await readState(ds, TABLES);
      await inTransaction((m) =>
        Promise.all([
          m.update(Product, { sku: 'p1' }, { price: 10 }),
          m.getRepository(Product).save({ sku: 'p1', name: 'saved', price: 1 }),
        ]),
      );
      const logs = await logsBy('tx');
      await expectExact(before, logs, trace());
      expect(errors.map(String)).toEqual([]);
    });

    it('an upsert and an update of the same row side by side: both recorded exactly', async () => {
      await seed(1);
      const before = await readState(ds, TABLES);
      await inTransaction((m) =>
        Promise.all([m.upsert(Product, { sku: 'p1', name: 'up', price: 5 }, ['sku']), m.update(Product, { sku: 'p1' }, { price: 10 })]),
      );
      const logs = await logsBy('tx');
      await expectExact(before, logs, trace());
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
        const logs = await logsBy('tx');
        statements.push(`(logs: ${logs.map((l) => `${l.action} ${String(l.model_id)}`).join(', ')})`);
        statements.push(`(errors reported: ${errors.map(String).join('; ')})`);
        await expectExact(before, logs, trace());
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
      const logs = await logsBy('tx');
      expect(logs.map((l) => `${l.action} ${l.model}`).sort()).toEqual([
        'Created orders',
        'Created orders',
        'Updated products',
        'Updated products',
      ]);
      await expectExact(before, logs, trace());
      expect(errors.map(String)).toEqual([]);
    });
  });
});

describe('Express + TypeORM on sqlite, concurrent requests changing one row', () => {
  it('increments by concurrent requests chain: each old_object is the previous new_object', async () => {
    const db = await openDatabase('sqlite', { entities: TEST_ENTITIES });
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    db.dataSource.subscribers.push(new ActionLogSubscriber(logger));
    const orders = db.dataSource.getRepository(Order);
    const row = await orders.save(orders.create({ status: 'new', total: 0 }));

    const app = express();
    app.use(actionLog(logger));
    app.post('/orders/:id/bump', async (req, res) => {
      await orders.update({ id: Number(req.params.id) }, { total: () => 'total + 1' });
      res.json({ ok: true });
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const n = 20;
    const replies = await Promise.all(Array.from({ length: n }, () => fetch(`${base}/orders/${String(row.id)}/bump`, { method: 'POST' })));
    server.close();
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: n }, () => 200));
    await logger.close();

    const logs = store
      .requests()
      .flatMap((d) => d.details.model_logs.filter((l) => l.action === 'Updated' && l.model_id === String(row.id)));
    const steps = logs
      .map((l) => [l.model_details.old_object?.total, l.model_details.new_object?.total])
      .sort((a, b) => Number(a[1]) - Number(b[1]) || Number(a[0]) - Number(b[0]));
    // The database applied n increments, one after another: 0 → 1, 1 → 2, ... as many as requests.
    expect(steps).toEqual(Array.from({ length: n }, (_, i) => [i, i + 1]));
    expect((await orders.findOneByOrFail({ id: row.id })).total).toBe(n);
    await db.drop();
  });

  it('upserts of one key by concurrent requests: one Created, then Updated, each old_object the previous new_object', async () => {
    const db = await openDatabase('sqlite', { entities: TEST_ENTITIES });
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    db.dataSource.subscribers.push(new ActionLogSubscriber(logger));
    const products = db.dataSource.getRepository(Product);

    const app = express();
    app.use(actionLog(logger));
    app.put('/products/:sku/:price', async (req, res) => {
      await products.upsert({ sku: req.params.sku, name: `n${req.params.price}`, price: Number(req.params.price) }, ['sku']);
      res.json({ ok: true });
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const n = 10;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => fetch(`${base}/products/k/${String(i + 1)}`, { method: 'PUT' })));
    server.close();
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: n }, () => 200));
    await logger.close();

    const logs = store.requests().flatMap((d) => d.details.model_logs);
    expect(logs.filter((l) => l.action === 'Created')).toHaveLength(1);
    // Replayed in the order of the chain they must form, from the Created one: every row reached once.
    const byOld = new Map(logs.filter((l) => l.action === 'Updated').map((l) => [l.model_details.old_object?.price, l]));
    let price = logs.find((l) => l.action === 'Created')!.model_details.new_object?.price;
    let seen = 1;
    while (byOld.has(price)) {
      price = byOld.get(price)!.model_details.new_object?.price;
      seen++;
    }
    expect(seen).toBe(n);
    expect(price).toBe((await products.findOneByOrFail({ sku: 'k' })).price);
    await db.drop();
  });
});
