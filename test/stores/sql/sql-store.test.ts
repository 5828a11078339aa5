import { afterAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { ActionLogConfigError, createActionLogger, SqlStore } from 'actionlog';
import { actionLogMigrations, ActionLogMigrations, ActionLogSubscriber, actionLogEntities } from 'actionlog/typeorm';
import { failOnWarning } from '../../support/matchers.js';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { all, describeStore } from '../../support/store-contract.js';
import { Order, TEST_ENTITIES } from '../../support/typeorm-entities.js';

const opened: SqlDatabase[] = [];
afterAll(async () => {
  for (const db of opened) await db.drop();
});

const TABLE_NAMES = ['actionlog_requests', 'actionlog_action_logs', 'actionlog_model_logs', 'actionlog_activity_logs'];
const info = { actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning };

async function fresh(kind: (typeof SQL_KINDS)[number], options: Parameters<typeof openDatabase>[1] = { entities: TEST_ENTITIES }) {
  const db = await openDatabase(kind, options);
  opened.push(db);
  return db;
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
    return { store };
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
