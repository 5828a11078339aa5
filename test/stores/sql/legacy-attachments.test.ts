import { afterEach, describe, expect, it } from 'vitest';
import { ActionLogConfigError, type ActionLogger, createActionLogger, SqlStore } from 'actionlog';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';

/**
 * An app upgrading from before 0.2 keeps its trail's tables with `prefix: ''` (the README's advice). The bytes of
 * attachments then go to a table named `attachments`, one of the commonest names an app gives a table of its own.
 */
describe.each(SQL_KINDS)("SqlStore with prefix '' beside an app's own attachments table on %s", (kind) => {
  let database: SqlDatabase;
  let logger: ActionLogger | undefined;

  afterEach(async () => {
    await logger?.close();
    await database.drop();
  });

  async function appDatabase(): Promise<SqlDatabase> {
    database = await openDatabase(kind, { entities: [] });
    const id = kind === 'postgres' ? 'SERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
    await database.dataSource.query(`CREATE TABLE "attachments" ("id" ${id}, "post_id" integer NOT NULL, "path" varchar(200) NOT NULL)`);
    await database.dataSource.query(`INSERT INTO "attachments" ("post_id", "path") VALUES (1, 'uploads/cv.pdf')`);
    return database;
  }

  it('is refused at start naming tables.attachments, and with another name there the logger records; the app keeps its table', async () => {
    const { dataSource } = await appDatabase();
    const refused = createActionLogger({ store: new SqlStore({ dataSource, prefix: '' }), flushIntervalMs: 0, onError: () => {} });
    const error = await refused.ready().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await refused.close();
    expect(error).toBeInstanceOf(ActionLogConfigError);
    expect(error?.message).toMatch(/tables\.attachments: table "attachments" is not actionlog's/);
    const errors: Error[] = [];
    const store = new SqlStore({ dataSource, prefix: '', tables: { attachments: 'actionlog_attachments' } });
    logger = createActionLogger({ store, flushIntervalMs: 0, onError: (e) => errors.push(e) });
    await logger.run({ user: 'u1' }, () => {
      logger!.record({ action: 'approve' });
    });
    await logger.flush();
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(await logger.count({ kind: 'actions' })).toBe(1);
    expect(await dataSource.query(`SELECT "post_id", "path" FROM "attachments"`)).toEqual([{ post_id: 1, path: 'uploads/cv.pdf' }]);
  });
});
