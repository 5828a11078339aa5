import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DataSource } from 'typeorm';
import {
  type ActionEntry,
  ActionLogConfigError,
  type ActionLogDocument,
  ActionLogValidationError,
  createActionLogger,
  SqlStore,
  type StoreBatch,
} from 'actionlog';
import { actionLogMigrations, ActionLogMigrations, ActionLogSubscriber, actionLogEntities } from 'actionlog/typeorm';
import { failOnWarning } from '../../support/matchers.js';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { action, all, batchOf, describeStore, modelLog, requestDoc, storedOnceVisible } from '../../support/store-contract.js';
import { Order, TEST_ENTITIES } from '../../support/typeorm-entities.js';

const opened: SqlDatabase[] = [];
afterAll(async () => {
  for (const db of opened) await db.drop();
});

const TABLE_NAMES = [
  'actionlog_requests',
  'actionlog_action_logs',
  'actionlog_model_logs',
  'actionlog_activity_logs',
  'actionlog_action_latest',
  'actionlog_attachments',
];
const info = { actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning };

async function fresh(kind: (typeof SQL_KINDS)[number], options: Parameters<typeof openDatabase>[1] = { entities: TEST_ENTITIES }) {
  const db = await openDatabase(kind, options);
  opened.push(db);
  return db;
}

/** PostgreSQL: the text indexes of the actions table, by name (expression indexes, which `indexesOf` leaves out). */
async function textIndexesOf(dataSource: DataSource): Promise<string[]> {
  if (dataSource.options.type !== 'postgres') return [];
  const rows = await dataSource.query<Array<{ indexname: string }>>(
    `SELECT indexname FROM pg_indexes WHERE tablename = 'actionlog_action_logs' AND indexdef LIKE '%to_tsvector%' ORDER BY 1`,
  );
  return rows.map((r) => r.indexname);
}

/** Index name → sorted columns and uniqueness, as the database reports them. */
async function indexesOf(dataSource: DataSource, table: string): Promise<Array<[string, string[], boolean]>> {
  const runner = dataSource.createQueryRunner();
  const found = (await runner.getTable(table))!;
  await runner.release();
  return found.indices.map((i): [string, string[], boolean] => [i.name!, [...i.columnNames].sort(), i.isUnique]).sort();
}

for (const kind of SQL_KINDS) {
  let db: SqlDatabase | undefined;
  describeStore(`SqlStore on ${kind}`, async () => {
    db ??= await fresh(kind);
    const store = new SqlStore({ dataSource: db.dataSource });
    await store.init(info);
    for (const table of TABLE_NAMES) await db.dataSource.query(`DELETE FROM ${table}`);
    return { store, nowTrailsRunningTransactions: kind === 'postgres' };
  });

  describe(`SqlStore on ${kind}`, () => {
    it('creates its tables and indexes itself, the same schema as its entities and its migrations', async () => {
      // A DataSource that knows the entities but was not synchronized: the store makes the tables.
      const own = await fresh(kind, { entities: actionLogEntities(kind), synchronize: false });
      await new SqlStore({ dataSource: own.dataSource }).init(info);
      expect(await indexesOf(own.dataSource, 'actionlog_requests')).toEqual(
        [
          ['actionlog_requests_correlation_id', ['correlation_id'], false],
          ['actionlog_requests_expires_at', ['expires_at'], false],
          ['actionlog_requests_module_timestamp', ['module', 'timestamp'], false],
          ['actionlog_requests_request_uuid', ['request_uuid'], false],
          ['actionlog_requests_timestamp_id', ['id', 'timestamp'], false],
          ['actionlog_requests_uid', ['uid'], true],
          ['actionlog_requests_user_id_timestamp', ['timestamp', 'user_id'], false],
          // PostgreSQL only: stored order, by the writing transaction.
          ...(kind === 'postgres' ? [['actionlog_requests_txid_id', ['id', 'txid'], false]] : []),
        ].sort(),
      );
      // The entities describe exactly these tables: TypeORM finds nothing to synchronize.
      expect((await own.dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
      // The migrations make the same, and drop it on revert.
      const migrated = await fresh(kind, { entities: TEST_ENTITIES, migrations: ActionLogMigrations, synchronize: false });
      await migrated.dataSource.runMigrations();
      for (const table of TABLE_NAMES) {
        expect(await indexesOf(migrated.dataSource, table)).toEqual(await indexesOf(own.dataSource, table));
      }
      if (kind === 'postgres') {
        const [gin] = await migrated.dataSource.query<Array<{ indexdef: string }>>(
          `SELECT indexdef FROM pg_indexes WHERE indexname = 'actionlog_requests_model_logs'`,
        );
        expect(gin!.indexdef).toMatch(/USING gin \(+details -> 'model_logs'::text\)+ jsonb_path_ops\)/);
      }
      for (let i = 0; i < ActionLogMigrations.length; i++) await migrated.dataSource.undoLastMigration();
      const runner = migrated.dataSource.createQueryRunner();
      expect(await runner.hasTable('actionlog_requests')).toBe(false);
      await runner.release();
    });

    it('takes a prefix or names one by one, in the store, the entities and the migrations alike', async () => {
      const named = await fresh(kind, {
        entities: TEST_ENTITIES,
        migrations: actionLogMigrations({ prefix: 'audit_' }),
        synchronize: false,
      });
      await named.dataSource.runMigrations();
      const store = new SqlStore({
        dataSource: named.dataSource,
        prefix: 'audit_',
        tables: { requests: 'audit_http' },
        createTables: false,
      });
      expect(store.tables).toEqual({
        requests: 'audit_http',
        actionLogs: 'audit_action_logs',
        modelLogs: 'audit_model_logs',
        activities: 'audit_activity_logs',
        latestActions: 'audit_action_latest',
        attachments: 'audit_attachments',
        checkpoints: 'audit_checkpoints',
      });
      // The migrations made audit_requests, not audit_http: said at start, naming the table.
      await expect(store.init(info)).rejects.toThrow(/table audit_http does not exist/);
      const prefixed = new SqlStore({ dataSource: named.dataSource, prefix: 'audit_', createTables: false });
      const logger = createActionLogger({ store: prefixed, flushIntervalMs: 0 });
      await logger.run({ requestUuid: 'named' }, () => undefined);
      await logger.close();
      expect(await named.dataSource.query(`SELECT request_uuid FROM audit_requests`)).toEqual([{ request_uuid: 'named' }]);
      expect(actionLogEntities(kind, { prefix: 'audit_' }).map((e) => e.options.tableName)).toEqual([
        'audit_requests',
        'audit_action_logs',
        'audit_model_logs',
        'audit_activity_logs',
        'audit_action_latest',
        'audit_checkpoints',
      ]);
    });

    it('keeps the tables of earlier versions with prefix "", upgrading the unique request id, and warns when it is left out', async () => {
      const old = await fresh(kind, { entities: TEST_ENTITIES, migrations: actionLogMigrations({ prefix: '' }), synchronize: false });
      await old.dataSource.runMigrations();
      // As the first migration of 0.1 left them: the request id unique, no uid index.
      await old.dataSource.query(`DROP INDEX "requests_request_uuid"`);
      await old.dataSource.query(`DROP INDEX "requests_uid"`);
      await old.dataSource.query(`CREATE UNIQUE INDEX "requests_request_uuid" ON "requests" ("request_uuid")`);
      const [, upgrade] = actionLogMigrations({ prefix: '' });
      const runner = old.dataSource.createQueryRunner();
      await new upgrade!().up(runner);
      await runner.release();
      expect(
        (await indexesOf(old.dataSource, 'requests')).filter(([name]) => ['requests_request_uuid', 'requests_uid'].includes(name)),
      ).toEqual([
        ['requests_request_uuid', ['request_uuid'], false],
        ['requests_uid', ['uid'], true],
      ]);
      const warnings: Error[] = [];
      const logger = createActionLogger({
        store: new SqlStore({ dataSource: old.dataSource, prefix: '' }),
        flushIntervalMs: 0,
        onError: (e) => warnings.push(e),
      });
      for (const module of ['first', 'second']) await logger.run({ requestUuid: 'same-id', module }, () => undefined);
      await logger.close();
      const docs = await all(new SqlStore({ dataSource: old.dataSource, prefix: '' }), 'requests', { request_uuid: 'same-id' });
      expect(docs.map((d) => d.module).sort()).toEqual(['first', 'second']);
      expect(warnings).toEqual([]);
      // Upgrading without prefix: '' would start a new, empty trail beside the old one: said once.
      const unprefixed = createActionLogger({
        store: new SqlStore({ dataSource: old.dataSource }),
        flushIntervalMs: 0,
        onError: (e) => warnings.push(e),
      });
      await unprefixed.run({ requestUuid: 'new' }, () => undefined);
      await unprefixed.close();
      expect(warnings.map((w) => w.message)).toEqual([
        `Invalid actionlog SqlStore options: prefix: table "requests" holds an earlier actionlog trail: pass prefix: '' to keep writing there`,
      ]);
    });

    it('refuses, on PostgreSQL, table names whose index names it would cut at 63 bytes into one, before making anything', async () => {
      const bare = await fresh(kind);
      const long = `trail_${'x'.repeat(56)}`; // 62 characters: "<long>_uid" and "<long>_request_uuid" are both "<long>_"
      const store = new SqlStore({ dataSource: bare.dataSource, tables: { requests: long } });
      if (kind === 'postgres') {
        await expect(store.init(info)).rejects.toThrow(ActionLogConfigError);
        await expect(store.init(info)).rejects.toThrow(
          new RegExp(
            `tables: are too long: PostgreSQL keeps the first 63 bytes of a name, and would take these for one: ${long}_uid / ${long}_request_uuid;`,
          ),
        );
        expect(await textIndexesOf(bare.dataSource)).toEqual([]);
      } else {
        await store.init(info);
        await store.write(batchOf([requestDoc('r1', 1)]));
        await store.write(batchOf([requestDoc('r1', 1)]));
        expect(await store.count('requests', {})).toBe(1);
      }
      // A name just short enough is taken.
      await new SqlStore({ dataSource: bare.dataSource, tables: { requests: `trail_${'x'.repeat(30)}` } }).init(info);
    });

    it('refuses tables it may not create when they are missing, once, naming them and the fix', async () => {
      const bare = await fresh(kind);
      const store = new SqlStore({ dataSource: bare.dataSource, createTables: false });
      await expect(store.init(info)).rejects.toThrow(ActionLogConfigError);
      await expect(store.init(info)).rejects.toThrow(
        /table actionlog_requests does not exist; table actionlog_action_logs does not exist; .*: create them \(createTables: true, or ActionLogMigrations/,
      );
      expect(() => new SqlStore({ dataSource: {} } as never)).toThrow(
        /dataSource: must be a TypeORM DataSource, or a function returning one/,
      );
      expect(() => new SqlStore({ dataSource: bare.dataSource, tabels: {} } as never)).toThrow(
        /tabels: unknown field \(did you mean "tables"\?\)/,
      );
    });

    it('waits for a DataSource made after the logger, with its subscriber in the options, without a false alarm', async () => {
      const template = await fresh(kind);
      const errors: Error[] = [];
      // The circle of the TypeORM setup: the store needs the DataSource, whose options need the logger's subscriber.
      // eslint-disable-next-line prefer-const -- assigned after the logger that reads it lazily
      let dataSource: DataSource;
      const logger = createActionLogger({
        store: new SqlStore({ dataSource: () => dataSource }),
        flushIntervalMs: 0,
        onError: (e) => errors.push(e),
      });
      dataSource = new DataSource({
        ...template.dataSource.options,
        entities: TEST_ENTITIES,
        subscribers: [ActionLogSubscriber.of(logger)],
      });
      const written = logger.run({ requestUuid: 'before-initialize' }, () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await dataSource.initialize();
      await written;
      await logger.run({ requestUuid: 'after' }, () => dataSource.getRepository(Order).save({ total: 3, address: {}, tags: [] }));
      await logger.close();
      const rows = await dataSource.query<Array<{ request_uuid: string }>>(`SELECT request_uuid FROM actionlog_requests ORDER BY id`);
      expect(rows.map((r) => r.request_uuid)).toEqual(['before-initialize', 'after']);
      expect(errors).toEqual([]);
      await dataSource.destroy();
    });

    it('never audits its own writes, on a data source the subscriber watches', async () => {
      const shared = await fresh(kind, { entities: [...TEST_ENTITIES, ...actionLogEntities(kind)] });
      const store = new SqlStore({ dataSource: shared.dataSource });
      const logger = createActionLogger({ store, flushIntervalMs: 0, modelLogs: true });
      shared.dataSource.subscribers.push(new ActionLogSubscriber(logger));
      await logger.run({ requestUuid: 'own' }, async () => {
        const order = await shared.dataSource.getRepository(Order).save({ total: 1, address: {}, tags: [] });
        await shared.dataSource.getRepository(Order).update({ id: order.id }, { total: 2 });
        logger.record({ action: 'checkout' });
      });
      await logger.flush();
      // Late events go through append(): also not audited.
      await logger.close();
      const docs = await all(store, 'requests');
      expect(docs.map((d) => d.request_uuid)).toEqual(['own']);
      expect(docs[0]!.details.model_logs.map((l) => [l.model, l.action])).toEqual([
        ['orders', 'Created'],
        ['orders', 'Updated'],
      ]);
      expect((await all(store, 'changes')).map((l) => l.model)).toEqual(['orders', 'orders']);
      expect(await all(store, 'actions')).toHaveLength(1);
    });

    it('stores nested dates of records as ISO strings and the document own dates as Dates', async () => {
      const local = await fresh(kind);
      const store = new SqlStore({ dataSource: local.dataSource });
      const logger = createActionLogger({ store, flushIntervalMs: 0 });
      const at = new Date('2026-05-06T07:08:09.010Z');
      logger.recordModelChange({
        action: 'Updated',
        model: 'x',
        model_class_name: 'X',
        model_namespace: 'db.x',
        model_id: '1',
        old_object: { at },
        new_object: { at: new Date(0) },
        timestamp: at,
      });
      await logger.close();
      const [doc] = await all(store, 'requests');
      expect(doc!.timestamp).toBeInstanceOf(Date);
      expect(doc!.details.model_logs[0]!.timestamp).toEqual(at);
      expect(doc!.details.model_logs[0]!.model_details.old_object).toEqual({ at: at.toISOString() });
    });
  });
}

/** The columns of a table, sorted. */
async function columnsOf(dataSource: DataSource, table: string): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  const found = (await runner.getTable(table))!;
  await runner.release();
  return found.columns.map((c) => c.name).sort();
}

const extra = { request_uuid: 'r1', module: 'loans' };
const actionsOnly = (actionLogs: ActionLogDocument[]): StoreBatch => ({ requests: [], actionLogs, modelLogs: [], activities: [] });
const minutesOf = (entries: Array<{ emitted_at: Date }>) => entries.map((a) => (a.emitted_at.getTime() - Date.UTC(2026, 0, 1)) / 60_000);

for (const kind of SQL_KINDS) {
  describe(`SqlStore on ${kind}: reads`, () => {
    it("tells its engine's positions from others before it has started, also given its DataSource as a function", async () => {
      const db = await fresh(kind);
      const [own, other] = kind === 'postgres' ? ['812:7', '7'] : ['7', '812:7'];
      for (const dataSource of [db.dataSource, () => db.dataSource]) {
        const store = new SqlStore({ dataSource });
        const at = (seq: string) => ({ time: new Date(0), id: '7', seq });
        expect([store.checkPosition(at(own)), store.checkPosition(at(other))]).toEqual([undefined, 'is not a cursor of this store']);
      }
    });

    it('fills the columns its filters read: method, route and status of requests, correlation id and user of actions and changes', async () => {
      const db = await fresh(kind);
      const store = new SqlStore({ dataSource: db.dataSource });
      await store.init(info);
      const doc = requestDoc('r1', 0, { correlation_id: 'c-1' });
      const batch = batchOf([doc]);
      batch.actionLogs[0]!.correlation_id = 'c-1';
      batch.modelLogs[0]!.correlation_id = 'c-1';
      const run = requestDoc('r2', 1);
      run.details.request = null;
      run.details.response = null;
      run.details.run = { user_details: null, metadata: null, duration_ms: 1, error: null };
      await store.write({ ...batch, requests: [doc, run] });
      expect(await db.dataSource.query(`SELECT request_uuid, method, route, status_code FROM actionlog_requests ORDER BY id`)).toEqual([
        { request_uuid: 'r1', method: 'POST', route: '/orders/:id', status_code: 201 },
        { request_uuid: 'r2', method: null, route: null, status_code: null },
      ]);
      expect(await db.dataSource.query(`SELECT correlation_id FROM actionlog_action_logs`)).toEqual([{ correlation_id: 'c-1' }]);
      const [change] = await db.dataSource.query<Array<{ user: unknown; user_id: string; correlation_id: string }>>(
        `SELECT "user", user_id, correlation_id FROM actionlog_model_logs`,
      );
      expect({ ...change, user: typeof change!.user === 'string' ? (JSON.parse(change!.user) as unknown) : change!.user }).toEqual({
        user: doc.details.request!.user_details,
        user_id: 'u1',
        correlation_id: 'c-1',
      });
    });

    it('upgrades tables of the previous version: the columns at start, filled where the document tells, and by the migration', async () => {
      const earlier = async () => {
        const db = await fresh(kind, { entities: TEST_ENTITIES, migrations: ActionLogMigrations, synchronize: false });
        await db.dataSource.runMigrations();
        const writer = new SqlStore({ dataSource: db.dataSource });
        await writer.init(info);
        await writer.write({
          ...batchOf([requestDoc('old', 1)]),
          actionLogs: [{ ...action('approve', 2, { note: 'Signed by the notary, notary@example.com' }), ...extra }],
        });
        // Undoing the reads migration (and the retention, latest-actions, integrity and search ones after it) leaves
        // the tables as the previous version made them, rows kept.
        await db.dataSource.undoLastMigration();
        await db.dataSource.undoLastMigration();
        expect(await columnsOf(db.dataSource, 'actionlog_action_logs')).not.toContain('integrity');
        await db.dataSource.undoLastMigration();
        const runner = db.dataSource.createQueryRunner();
        expect(await runner.hasTable('actionlog_action_latest')).toBe(false);
        await runner.release();
        await db.dataSource.undoLastMigration();
        expect((await indexesOf(db.dataSource, 'actionlog_action_logs')).map(([name]) => name)).not.toContain(
          'actionlog_action_logs_expires_at',
        );
        await db.dataSource.undoLastMigration();
        expect(await columnsOf(db.dataSource, 'actionlog_requests')).toEqual(
          [
            'appends',
            'correlation_id',
            'details',
            'expires_at',
            'id',
            'integrity',
            'module',
            'request_uuid',
            'timestamp',
            'uid',
            'user_id',
          ].sort(),
        );
        expect((await indexesOf(db.dataSource, 'actionlog_requests')).map(([name]) => name)).toEqual(
          ['correlation_id', 'expires_at', 'module_timestamp', 'request_uuid', 'timestamp', 'uid', 'user_id_timestamp'].map(
            (n) => `actionlog_requests_${n}`,
          ),
        );
        expect(await columnsOf(db.dataSource, 'actionlog_model_logs')).not.toContain('user_id');
        return db;
      };
      const readsTheEarlierRows = async (store: SqlStore, dataSource: DataSource) => {
        expect((await all(store, 'requests', { method: 'POST', status: 201 })).map((d) => d.request_uuid)).toEqual(['old']);
        expect(minutesOf(await all(store, 'actions', { q: 'notary' }))).toEqual([2]);
        // A word of an email, which PostgreSQL's parser keeps whole: the upgraded text index splits it.
        expect(minutesOf(await all(store, 'actions', { q: 'example' }))).toEqual([2]);
        expect(await textIndexesOf(dataSource)).toEqual(kind === 'postgres' ? ['actionlog_action_logs_words'] : []);
        const query = { kind: 'changes', filter: {}, by: 'stored', order: 'asc', limit: 10 } as const;
        await storedOnceVisible(store, query, (entry) => String(entry.model_id), ['1']);
        expect(await all(store, 'changes', { actor_id: 'u1' })).toEqual([]); // the user was not in change rows before
      };
      // At start, with createTables (the default).
      const started = await earlier();
      const store = new SqlStore({ dataSource: started.dataSource });
      await store.init(info);
      expect(await columnsOf(started.dataSource, 'actionlog_requests')).toContain('status_code');
      await readsTheEarlierRows(store, started.dataSource);
      // By the migration, for apps whose migrations make the tables.
      const migrated = await earlier();
      await migrated.dataSource.runMigrations();
      const own = await fresh(kind, { entities: actionLogEntities(kind), synchronize: false });
      await new SqlStore({ dataSource: own.dataSource }).init(info);
      for (const table of TABLE_NAMES) {
        expect(await columnsOf(migrated.dataSource, table)).toEqual(await columnsOf(own.dataSource, table));
        expect(await indexesOf(migrated.dataSource, table)).toEqual(await indexesOf(own.dataSource, table));
      }
      const checked = new SqlStore({ dataSource: migrated.dataSource, createTables: false });
      await checked.init(info);
      await readsTheEarlierRows(checked, migrated.dataSource);
    });

    it("replaces the previous version's text index, which kept an email or a version whole, at start and by the migration", async () => {
      const words = kind === 'postgres' ? ['actionlog_action_logs_words'] : [];
      for (const upgrade of ['at start', 'by the migration']) {
        const db = await fresh(kind, { entities: TEST_ENTITIES, migrations: ActionLogMigrations, synchronize: false });
        await db.dataSource.runMigrations();
        expect(await textIndexesOf(db.dataSource)).toEqual(words);
        await db.dataSource.undoLastMigration();
        expect(await textIndexesOf(db.dataSource)).toEqual(kind === 'postgres' ? ['actionlog_action_logs_text'] : []);
        if (upgrade === 'at start') await new SqlStore({ dataSource: db.dataSource }).init(info);
        else {
          // Until the migration runs, a store that may not create it says that q reads the whole table.
          const warnings: Error[] = [];
          await new SqlStore({ dataSource: db.dataSource, createTables: false }).init({ ...info, warn: (e) => warnings.push(e) });
          expect(warnings.map((w) => w.message)).toEqual(
            kind === 'postgres' ? [expect.stringMatching(/text index of actions \(q\) is missing, so q reads the whole table/)] : [],
          );
          await db.dataSource.runMigrations();
          await new SqlStore({ dataSource: db.dataSource, createTables: false }).init(info);
        }
        expect(await textIndexesOf(db.dataSource), upgrade).toEqual(words);
      }
    });

    it.runIf(kind === 'postgres')(
      "builds the text index of a trail that holds actions without holding the actions' writes, and again after a failed build",
      async () => {
        const db = await fresh(kind, { entities: TEST_ENTITIES, migrations: ActionLogMigrations, synchronize: false });
        await db.dataSource.runMigrations();
        await db.dataSource.undoLastMigration();
        await db.dataSource.query(
          `INSERT INTO actionlog_action_logs (uid, request_uuid, action_type, emitted_at, note) SELECT 'u' || g, 'r' || g, 'approve', now(), 'signed by notary ' || g FROM generate_series(1, 20) AS g`,
        );
        // A write under way holds the build at its start, where either kind of build waits for it: a plain CREATE
        // INDEX waiting there already holds every write queued behind it, a concurrent one none.
        const writing = db.dataSource.createQueryRunner();
        await writing.startTransaction();
        await writing.query(
          `INSERT INTO actionlog_action_logs (uid, request_uuid, action_type, emitted_at) VALUES ('open', 'open', 'approve', now())`,
        );
        const started = new SqlStore({ dataSource: db.dataSource }).init(info);
        try {
          const buildWaiting = async () =>
            (
              await db.dataSource.query<unknown[]>(
                `SELECT 1 FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX%' AND wait_event_type = 'Lock'`,
              )
            ).length > 0;
          while (!(await buildWaiting())) await sleep(5);
          // Another process writes an action while the build waits: with a plain build it would wait too, and time out.
          const late = db.dataSource.createQueryRunner();
          try {
            await late.startTransaction();
            await late.query(`SET LOCAL lock_timeout = '2s'`);
            await late.query(
              `INSERT INTO actionlog_action_logs (uid, request_uuid, action_type, emitted_at, note) VALUES ('late', 'late', 'approve', now(), 'written during the build')`,
            );
            await late.commitTransaction();
          } finally {
            await late.release();
          }
        } finally {
          await writing.commitTransaction();
          await writing.release();
        }
        await started;
        expect(await textIndexesOf(db.dataSource)).toEqual(['actionlog_action_logs_words']);
        const store = new SqlStore({ dataSource: db.dataSource });
        await store.init(info);
        expect((await all(store, 'actions', { q: 'during' })).map((a) => a.request_uuid)).toEqual(['late']);

        // A build that was stopped leaves an invalid index, which IF NOT EXISTS alone would keep for good.
        await db.dataSource.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'actionlog_action_logs_words'::regclass`);
        await new SqlStore({ dataSource: db.dataSource }).init(info);
        const [index] = await db.dataSource.query<Array<{ valid: boolean }>>(
          `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'actionlog_action_logs_words'::regclass`,
        );
        expect(index).toEqual({ valid: true });
      },
    );

    it.runIf(kind === 'postgres')('starts on tables that are up to date without waiting for the writes under way', async () => {
      const db = await fresh(kind);
      await new SqlStore({ dataSource: db.dataSource }).init(info);
      const writing = db.dataSource.createQueryRunner();
      await writing.startTransaction();
      await writing.query(
        `INSERT INTO actionlog_action_logs (uid, request_uuid, action_type, emitted_at) VALUES ('open', 'open', 'approve', now())`,
      );
      try {
        // CREATE INDEX IF NOT EXISTS would wait for this transaction's end, holding up every write queued after it.
        const started = new SqlStore({ dataSource: db.dataSource }).init(info).then(() => 'started');
        expect(await Promise.race([started, sleep(3000).then(() => 'waiting')])).toBe('started');
      } finally {
        await writing.commitTransaction();
        await writing.release();
      }
    });

    it('finds words in notes and names whatever their case and accents', async () => {
      const db = await fresh(kind);
      const store = new SqlStore({ dataSource: db.dataSource });
      await store.init(info);
      await store.write(
        actionsOnly([
          { ...action('approve', 1, { note: 'Crème brûlée served at the Café' }), ...extra },
          { ...action('approve', 2, { actor: { ref: 'u2', type: 'user', name: 'Bo Ström' } }), ...extra },
          { ...action('reject', 3, { target: { type: 'car', id: '7', name: 'Red CONVERTIBLE' } }), ...extra },
        ]),
      );
      const words = async (q: string) => minutesOf(await all(store, 'actions', { q }));
      expect(await words('creme BRULEE')).toEqual([1]);
      expect(await words('cafe')).toEqual([1]);
      expect(await words('strom')).toEqual([2]);
      expect(await words('STRÖM')).toEqual([2]);
      expect(await words('convertible')).toEqual([3]);
      expect(await words('red ström')).toEqual([]);
      expect(await store.count('actions', { q: 'ström' })).toBe(1);
    });

    it('matches custom fields in objects and in lists, strictly typed, and counts an action once per tag type', async () => {
      const db = await fresh(kind);
      const store = new SqlStore({ dataSource: db.dataSource });
      await store.init(info);
      const custom = (minutes: number, fields: Partial<ActionEntry>) => ({ ...action('approve', minutes, fields), ...extra });
      await store.write(
        actionsOnly([
          custom(1, { details: [{ name: 'flag', value: true, type: 'boolean' }], source: { type: 'api', ref: 'web' } }),
          custom(2, {
            details: [{ name: 'flag', value: 1, type: 'integer' }],
            source: [{ name: 'ref', value: 'web' }] as never,
            tags: [
              { type: 'vip', ref: 'a' },
              { type: 'vip', ref: 'b' },
            ],
          }),
          custom(3, {
            details: [{ name: 'flag', value: 'true', type: 'string' }],
            actor: { ref: 'u3', type: 'user', name: 'Cy', extra: [{ name: 'team', value: 'north' }] as never },
          }),
        ]),
      );
      const find = async (match: { in: 'details' | 'source' | 'actor.extra'; name: string; value: string | number | boolean }) =>
        minutesOf(await all(store, 'actions', { custom: [match] }, 'asc'));
      expect(await find({ in: 'details', name: 'flag', value: true })).toEqual([1]);
      expect(await find({ in: 'details', name: 'flag', value: 1 })).toEqual([2]);
      expect(await find({ in: 'details', name: 'flag', value: 'true' })).toEqual([3]);
      expect(await find({ in: 'source', name: 'ref', value: 'web' })).toEqual([1, 2]);
      expect(await find({ in: 'actor.extra', name: 'team', value: 'north' })).toEqual([3]);
      expect(await find({ in: 'actor.extra', name: 'team', value: 'south' })).toEqual([]);
      expect(await store.facets({ kind: 'actions', field: 'tag_type', filter: {}, limit: 10 })).toEqual([{ value: 'vip', count: 3 }]);
    });

    it('refuses a position it did not make', async () => {
      const db = await fresh(kind);
      const store = new SqlStore({ dataSource: db.dataSource });
      const after = { time: new Date(0), id: '1 OR 1=1', seq: '1' };
      await expect(store.query({ kind: 'actions', filter: {}, by: 'time', order: 'desc', limit: 5, after })).rejects.toThrow(
        ActionLogValidationError,
      );
      await expect(
        store.query({ kind: 'actions', filter: {}, by: 'stored', order: 'asc', limit: 5, after: { ...after, seq: 'x' } }),
      ).rejects.toThrow(/cursor: is not a cursor of this store/);
    });

    it('wakes watchers after its writes until they stop', async () => {
      const db = await fresh(kind);
      const store = new SqlStore({ dataSource: db.dataSource });
      await store.init(info);
      let woken = 0;
      const stop = store.watch(() => woken++);
      await store.write(batchOf([requestDoc('w1')]));
      expect(woken).toBeGreaterThanOrEqual(1);
      stop();
      const before = woken;
      await store.write(batchOf([requestDoc('w2')]));
      expect(woken).toBe(before);
      await store.close();
    });
  });
}

describe('SqlStore on a SQLite file another process writes', () => {
  it('is away while another connection holds the write lock past the busy timeout, and back once it lets go', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'actionlog-sqlite-'));
    const file = join(folder, 'trail.db');
    const dataSource = new DataSource({ type: 'better-sqlite3', database: file, timeout: 200 });
    await dataSource.initialize();
    const store = new SqlStore({ dataSource });
    await store.init(info);
    const other = new DataSource({ type: 'better-sqlite3', database: file });
    await other.initialize();
    await other.query('BEGIN IMMEDIATE');
    // The writer asks ping() after a failed write: "locked" must read as the store being away, not as a bad batch.
    await expect(store.ping()).rejects.toThrow(/database is locked/);
    await expect(store.write(batchOf([requestDoc('held')]))).rejects.toThrow(/database is locked/);
    await other.query('COMMIT');
    await store.ping();
    await store.write(batchOf([requestDoc('held')]));
    expect((await all(store, 'requests')).map((d) => d.request_uuid)).toEqual(['held']);
    await other.destroy();
    await dataSource.destroy();
    rmSync(folder, { recursive: true, force: true });
  });
});

describe('SqlStore on SQLite: a large batch', () => {
  it('is written in parts with turns of the event loop between them, each document once, again on a retry', async () => {
    const db = await fresh('sqlite');
    const store = new SqlStore({ dataSource: db.dataSource });
    await store.init(info);
    const batch = batchOf(Array.from({ length: 1000 }, (_, i) => requestDoc(`big-${i}`)));
    // better-sqlite3 is synchronous: only a write that yields between its transactions lets these run meanwhile.
    let turns = 0;
    let writing = true;
    const turn = () => {
      if (!writing) return;
      turns++;
      setImmediate(turn);
    };
    setImmediate(turn);
    await store.write(batch);
    writing = false;
    expect(turns).toBeGreaterThanOrEqual(4);
    await store.write(batch);
    const stored = (await all(store, 'requests')).map((d) => d.request_uuid);
    expect(stored).toHaveLength(1000);
    expect(new Set(stored).size).toBe(1000);
  });
});

describe('SqlStore on postgres: other processes, plans and stored order', () => {
  /** Another process's DataSource on the same database (a pool of its own). */
  async function sibling(db: SqlDatabase): Promise<DataSource> {
    const other = new DataSource({ ...db.dataSource.options, entities: [] });
    await other.initialize();
    return other;
  }

  const listening = async (dataSource: DataSource) =>
    Number(
      (
        await dataSource.query<Array<{ n: string }>>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN "actionlog_requests"'`,
        )
      )[0]!.n,
    );

  it('wakes on the writes of other processes, listening on a connection of its own that close() ends', async () => {
    const db = await fresh('postgres');
    const store = new SqlStore({ dataSource: db.dataSource });
    await store.init(info);
    const other = await sibling(db);
    const writer = new SqlStore({ dataSource: other });
    await writer.init(info);
    const wakes: number[] = [];
    store.watch(() => wakes.push(Date.now()));
    await vi.waitFor(async () => {
      expect(await listening(db.dataSource)).toBe(1);
    });
    wakes.length = 0;
    await writer.write(batchOf([requestDoc('elsewhere')]));
    await vi.waitFor(() => {
      expect(wakes.length).toBeGreaterThan(0);
    });
    await store.close();
    expect(await listening(db.dataSource)).toBe(0);
    // The DataSource is the app's: still open.
    expect(await all(store, 'requests')).toHaveLength(1);
    await other.destroy();
  });

  it('reads by its indexes: history, actions by actor, by target, by time and by words (EXPLAIN, 20 000 rows of each)', async () => {
    const db = await fresh('postgres');
    const store = new SqlStore({ dataSource: db.dataSource });
    await store.init(info);
    for (let batch = 0; batch < 10; batch++) {
      const n = (i: number) => batch * 2000 + i;
      await store.write({
        requests: [],
        actionLogs: Array.from({ length: 2000 }, (_, i) => ({
          ...action('approve', n(i), {
            actor_id: `u${n(i) % 200}`,
            target_id: String(n(i) % 2000),
            note: n(i) % 500 === 0 ? `Refund sent to alice${n(i)}@example.com` : 'Approved',
          }),
          ...extra,
        })),
        modelLogs: Array.from({ length: 2000 }, (_, i) => ({ ...modelLog(String(n(i) % 400), n(i)), ...extra, user: null })),
        activities: [],
      });
    }
    await db.dataSource.query('ANALYZE');
    const statements: Array<[string, unknown[]]> = [];
    const query = db.dataSource.query.bind(db.dataSource);
    db.dataSource.query = ((sql: string, params?: unknown[]) => {
      statements.push([sql, params ?? []]);
      return query(sql, params);
    }) as typeof db.dataSource.query;
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    const planOf = async (read: () => Promise<{ items: unknown[] }>) => {
      statements.length = 0;
      expect((await read()).items.length).toBeGreaterThan(0);
      const [sql, params] = statements.find(([s]) => s.startsWith('SELECT *'))!;
      const rows = await query<Array<{ 'QUERY PLAN': string }>>(`EXPLAIN ${sql}`, params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    const history = await planOf(() => logger.history('orders', '17'));
    expect(history).toMatch(/Index Scan using actionlog_model_logs_model_model_id_timestamp_id /);
    const byActor = await planOf(() => logger.query({ kind: 'actions', actor_id: 'u7' }));
    expect(byActor).toMatch(/Index Scan Backward using actionlog_action_logs_actor_id_emitted_at_id /);
    const byTarget = await planOf(() => logger.query({ kind: 'actions', target_type: 'loan', target_id: '42' }));
    expect(byTarget).toMatch(/Index Scan Backward using actionlog_action_logs_target_type_target_id_emitted_at_id /);
    const from = new Date(Date.UTC(2026, 0, 1) + 5000 * 60_000);
    const byTime = await planOf(() => logger.query({ kind: 'actions', from, to: new Date(from.getTime() + 3600_000) }));
    expect(byTime).toMatch(/Index Scan Backward using actionlog_action_logs_emitted_at_id /);
    // Words of an email, by the text index (20 of 20 000 actions hold one).
    expect(await planOf(() => logger.query({ kind: 'actions', q: 'example' }))).toMatch(/Bitmap Index Scan on actionlog_action_logs_words/);
    // Each in index order: nothing to sort.
    for (const plan of [history, byActor, byTarget, byTime]) expect(plan).not.toMatch(/Sort/);
    await logger.close();
  });

  it('never passes over an entry whose transaction commits after a later one: stored order waits for it', async () => {
    const db = await fresh('postgres');
    const store = new SqlStore({ dataSource: db.dataSource });
    await store.init(info);
    const other = await sibling(db);
    // A transaction of another process holds the uid "blocker": a write inserting it waits for that transaction.
    const holder = other.createQueryRunner();
    await holder.startTransaction();
    await holder.query(`INSERT INTO actionlog_requests (uid, request_uuid, details) VALUES ('blocker', 'held', '{}')`);
    const stored = async (order: 'asc' | 'desc' = 'asc') =>
      (await store.query({ kind: 'requests', filter: {}, by: 'stored', order, limit: 10 })).map((s) => s.entry.uid);
    // The first write takes its ids (x1, then blocker) and waits; the second takes later ids and commits.
    const first = store.write(batchOf([requestDoc('x1', 1, { uid: 'x1' }), requestDoc('b', 2, { uid: 'blocker' })]));
    await vi.waitFor(async () => {
      const [waiting] = await other.query<Array<{ n: string }>>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      expect(Number(waiting!.n)).toBe(1);
    });
    await store.write(batchOf([requestDoc('x2', 3, { uid: 'x2' })]));
    expect((await all(store, 'requests')).map((d) => d.uid)).toEqual(['x2']); // visible...
    expect(await stored()).toEqual([]); // ...but not yet in stored order: the first write may still commit before it
    // Nor is it the newest: a tail starting after x2 would pass over x1 once the first write commits.
    expect(await stored('desc')).toEqual([]);
    await holder.rollbackTransaction();
    await holder.release();
    await first;
    // Once no older transaction runs on the server: other files' tests share it and may hold one open a moment.
    const settle = { timeout: 20_000, interval: 50 };
    await expect.poll(() => stored(), settle).toEqual(['x1', 'blocker', 'x2']);
    await expect.poll(() => stored('desc'), settle).toEqual(['x2', 'blocker', 'x1']);
    const [x1, , x2] = await store.query({ kind: 'requests', filter: {}, by: 'stored', order: 'asc', limit: 10 });
    expect(Number(x1!.position.id)).toBeLessThan(Number(x2!.position.id));
    await other.destroy();
  });
});
