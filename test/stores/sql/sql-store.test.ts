import { afterAll, describe, expect, it } from 'vitest';
import { ActionLogConfigError, createActionLogger, SqlStore } from 'actionlog';
import {
  ActionLogMigration,
  ActionLogMigrations,
  ActionLogRequestIdsMigration,
  ActionLogSubscriber,
  actionLogEntities,
} from 'actionlog/typeorm';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { describeStore } from '../../support/store-contract.js';
import { Order, TEST_ENTITIES } from '../../support/typeorm-entities.js';

const opened: SqlDatabase[] = [];
afterAll(async () => {
  for (const db of opened) await db.drop();
});

for (const kind of SQL_KINDS) {
  let db: SqlDatabase | undefined;
  describeStore(`SqlStore on ${kind}`, async () => {
    if (!db) {
      db = await openDatabase(kind, { entities: actionLogEntities(kind) });
      opened.push(db);
    }
    for (const table of ['requests', 'action_logs', 'model_logs', 'activity_logs']) await db.dataSource.query(`DELETE FROM ${table}`);
    return { store: new SqlStore({ dataSource: db.dataSource }) };
  });

  describe(`SqlStore on ${kind}`, () => {
    it('creates its tables and indexes with the migration, and drops them on revert', async () => {
      const migrated = await openDatabase(kind, {
        entities: actionLogEntities(kind),
        migrations: ActionLogMigrations,
        synchronize: false,
      });
      opened.push(migrated);
      await migrated.dataSource.runMigrations();
      const runner = migrated.dataSource.createQueryRunner();
      const requests = (await runner.getTable('requests'))!;
      expect(requests.indices.map((i) => [i.name, [...i.columnNames].sort(), i.isUnique]).sort()).toEqual(
        [
          ['requests_correlation_id', ['correlation_id'], false],
          ['requests_expires_at', ['expires_at'], false],
          ['requests_module_timestamp', ['module', 'timestamp'], false],
          ['requests_request_uuid', ['request_uuid'], false],
          ['requests_timestamp', ['timestamp'], false],
          ['requests_uid', ['uid'], true],
          ['requests_user_id_timestamp', ['timestamp', 'user_id'], false],
        ].sort(),
      );
      const details = requests.columns.find((c) => c.name === 'details')!;
      expect(details.type).toBe(kind === 'postgres' ? 'jsonb' : 'json');
      const actions = (await runner.getTable('action_logs'))!;
      expect(actions.indices.map((i) => [...i.columnNames].sort().join(','))).toEqual(
        expect.arrayContaining(['action_type,actor_id', 'action_type', 'target_id,target_type', 'emitted_at']),
      );
      // The entities match the migrated schema: nothing left to synchronize.
      expect((await migrated.dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
      if (kind === 'postgres') {
        const [gin] = await migrated.dataSource.query<Array<{ indexdef: string }>>(
          `SELECT indexdef FROM pg_indexes WHERE indexname = 'requests_model_logs'`,
        );
        expect(gin!.indexdef).toMatch(/USING gin \(+details -> 'model_logs'::text\)+ jsonb_path_ops\)/);
      }
      await migrated.dataSource.undoLastMigration();
      await migrated.dataSource.undoLastMigration();
      expect(await runner.hasTable('requests')).toBe(false);
      await runner.release();
    });

    it('upgrades tables of the first migration, where the request id was unique, so that two requests may claim one', async () => {
      const old = await openDatabase(kind, { entities: actionLogEntities(kind), migrations: [ActionLogMigration], synchronize: false });
      opened.push(old);
      await old.dataSource.runMigrations();
      await old.dataSource.query(`DROP INDEX "requests_request_uuid"`);
      await old.dataSource.query(`DROP INDEX "requests_uid"`);
      await old.dataSource.query(`CREATE UNIQUE INDEX "requests_request_uuid" ON "requests" ("request_uuid")`);
      await new ActionLogRequestIdsMigration().up(old.dataSource.createQueryRunner());
      const indices = (await old.dataSource.createQueryRunner().getTable('requests'))!.indices;
      expect(
        indices
          .filter((i) => ['requests_request_uuid', 'requests_uid'].includes(i.name!))
          .map((i) => [i.name, i.isUnique])
          .sort(),
      ).toEqual([
        ['requests_request_uuid', false],
        ['requests_uid', true],
      ]);
      const logger = createActionLogger({ store: new SqlStore({ dataSource: old.dataSource }), flushIntervalMs: 0 });
      for (const module of ['first', 'second']) await logger.run({ requestUuid: 'same-id', module }, () => undefined);
      await logger.close();
      expect(
        (await new SqlStore({ dataSource: old.dataSource }).findRequests({ request_uuid: 'same-id' })).map((d) => d.module).sort(),
      ).toEqual(['first', 'second']);
    });

    it('refuses a data source without its entities, with a typed error saying what to add', async () => {
      const bare = await openDatabase(kind, { entities: TEST_ENTITIES });
      opened.push(bare);
      await expect(new SqlStore({ dataSource: bare.dataSource }).init()).rejects.toThrow(ActionLogConfigError);
      await expect(new SqlStore({ dataSource: bare.dataSource }).init()).rejects.toThrow(/actionLogEntities/);
      expect(() => new SqlStore({ dataSource: {} } as never)).toThrow(/dataSource/);
    });

    it('never audits its own writes, on a data source the subscriber watches', async () => {
      const shared = await openDatabase(kind, { entities: [...TEST_ENTITIES, ...actionLogEntities(kind)] });
      opened.push(shared);
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
      const docs = await store.findRequests();
      expect(docs.map((d) => d.request_uuid)).toEqual(['own']);
      expect(docs[0]!.details.model_logs.map((l) => [l.model, l.action])).toEqual([
        ['orders', 'Created'],
        ['orders', 'Updated'],
      ]);
      expect((await store.findModelLogs()).map((l) => l.model)).toEqual(['orders', 'orders']);
      expect(await store.findActions()).toHaveLength(1);
    });

    it('stores nested dates of records as ISO strings and the document own dates as Dates', async () => {
      const local = await openDatabase(kind, { entities: actionLogEntities(kind) });
      opened.push(local);
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
      const [doc] = await store.findRequests();
      expect(doc!.timestamp).toBeInstanceOf(Date);
      expect(doc!.details.model_logs[0]!.timestamp).toEqual(at);
      expect(doc!.details.model_logs[0]!.model_details.old_object).toEqual({ at: at.toISOString() });
    });
  });
}
