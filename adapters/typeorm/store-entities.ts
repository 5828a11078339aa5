import {
  type ColumnSpec,
  type IndexSpec,
  columnsOn,
  CURRENT_TXID,
  DEFAULT_PREFIX,
  indexesOn,
  migrateSchema,
  oneTableStatements,
  quoteName,
  revertSchema,
  runProgram,
  searchStatements,
  sqlIndexName,
  type SqlTables,
  sqlTableNames,
  TABLES,
  unsplitSearchStatements,
  type TableKey,
} from 'actionlog/adapter-kit';
import { EntitySchema, type EntityMetadata, type EntitySchemaColumnOptions, type MigrationInterface, type QueryRunner } from 'typeorm';
import { isSqliteFamily } from './entity-state.js';

/** The database types the SQL store supports. */
export type SqlStoreDialect = 'postgres' | 'sqlite' | 'better-sqlite3';

interface Dialect {
  json: EntitySchemaColumnOptions['type'];
  date: EntitySchemaColumnOptions['type'];
  blob: EntitySchemaColumnOptions['type'];
}

function dialectOf(type: string): Dialect {
  if (type === 'postgres') return { json: 'jsonb', date: 'timestamptz', blob: 'bytea' };
  if (isSqliteFamily(type)) return { json: 'json', date: 'datetime', blob: 'blob' };
  throw new Error(`actionlog's SQL store supports postgres and sqlite, not ${type}`);
}

/** A column of the store's tables (`actionlog/adapter-kit`'s TABLES) as TypeORM defines it. */
function columnOf(column: ColumnSpec, d: Dialect): EntitySchemaColumnOptions {
  const nullable = column.nullable ?? true;
  switch (column.kind) {
    case 'id':
      return { type: 'integer', primary: true, generated: 'increment' };
    case 'text':
      return { type: 'varchar', length: column.length, nullable };
    case 'long-text':
      return { type: 'text', nullable };
    case 'json':
      return { type: d.json, nullable };
    case 'date':
      return { type: d.date, nullable };
    case 'int':
      return { type: 'integer', nullable };
    case 'txid':
      return { type: 'bigint', nullable: false, default: () => CURRENT_TXID };
    case 'bool':
      return { type: 'boolean', default: column.default };
    case 'blob':
      return { type: d.blob, nullable };
  }
}

const KEYS = Object.keys(TABLES) as TableKey[];

/** Names of the store's tables, as `SqlStore` takes them: a prefix (default `"actionlog_"`) and names one by one. */
export interface ActionLogTableNames {
  prefix?: string;
  tables?: Partial<SqlTables>;
}

/**
 * The SQL store's tables as TypeORM entities, for apps that manage their schema with `synchronize`. Not needed
 * otherwise: `SqlStore` creates its tables itself, or `ActionLogMigrations` do. Give the same names as the store.
 */
export function actionLogEntities(type: SqlStoreDialect | (string & {}), names: ActionLogTableNames = {}): EntitySchema[] {
  const d = dialectOf(type);
  const engine = type === 'postgres' ? 'postgres' : 'sqlite';
  const tables = sqlTableNames(names.prefix ?? DEFAULT_PREFIX, names.tables);
  return KEYS.map((key) => {
    const table = TABLES[key];
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- TypeORM types its options as a class; it reads only their fields
    return new EntitySchema({
      name: table.entity,
      tableName: tables[key],
      columns: Object.fromEntries(columnsOn(engine, table).map(([name, column]) => [name, columnOf(column, d)])),
      // GIN indexes: TypeORM cannot declare their kind; `synchronize: false` has it keep them as the store made them.
      indices: indexesOn(engine, table).map((index) => ({
        name: sqlIndexName(tables[key], index),
        columns: index.fields.map(([field]) => field),
        unique: index.unique,
        ...(index.using === 'gin' ? { synchronize: false } : {}),
      })),
    });
  });
}

/** The names the migrations use: those of `actionLogEntities()` when the DataSource has them, else the given ones. */
function tablesOf(queryRunner: QueryRunner, names: ActionLogTableNames): SqlTables {
  const connection = queryRunner.dataSource;
  const given = sqlTableNames(names.prefix ?? DEFAULT_PREFIX, names.tables);
  const fromEntities = (key: TableKey) =>
    connection.hasMetadata(TABLES[key].entity) ? connection.getMetadata(TABLES[key].entity).tableName : given[key];
  return {
    ...(Object.fromEntries(KEYS.map((key) => [key, fromEntities(key)])) as Record<TableKey, string>),
    attachments: given.attachments,
  };
}

const engineOf = (queryRunner: QueryRunner) => (queryRunner.dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite');
const queryOf = (queryRunner: QueryRunner) => (sql: string, params?: unknown[]) => queryRunner.query(sql, params) as Promise<unknown>;

/**
 * The store's migrations, in order, for these table names: `migrations: [...yours, ...actionLogMigrations({ prefix })]`.
 * `ActionLogMigrations` is the same for the default names.
 */
export function actionLogMigrations(names: ActionLogTableNames = {}): Array<new () => MigrationInterface> {
  /** Creates (and on revert drops) the store's tables with their indexes: the statements `SqlStore` runs itself. */
  class ActionLogMigration1763856000000 implements MigrationInterface {
    name = 'ActionLogMigration1763856000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await runProgram(queryOf(queryRunner), migrateSchema(engineOf(queryRunner), tablesOf(queryRunner, names)));
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const tables = tablesOf(queryRunner, names);
      for (const key of KEYS) await queryRunner.query(`DROP TABLE IF EXISTS ${quoteName(tables[key])}`);
    }
  }

  /**
   * For tables made by the first migration of versions before 0.2: `request_uuid` was unique, and would refuse two
   * requests claiming one id; the server's `uid` is the key now. (Tables made after it already have these indexes.)
   */
  class ActionLogRequestIdsMigration1764547200000 implements MigrationInterface {
    name = 'ActionLogRequestIdsMigration1764547200000';

    async up(queryRunner: QueryRunner): Promise<void> {
      const table = tablesOf(queryRunner, names).requests;
      await queryRunner.query(`DROP INDEX IF EXISTS ${quoteName(`${table}_request_uuid`)}`);
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS ${quoteName(`${table}_request_uuid`)} ON ${quoteName(table)} ("request_uuid")`);
      await queryRunner.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${quoteName(`${table}_uid`)} ON ${quoteName(table)} ("uid")`);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP INDEX IF EXISTS ${quoteName(`${tablesOf(queryRunner, names).requests}_uid`)}`);
    }
  }

  /**
   * For tables made by earlier versions: the columns reads filter on (a request's method, route and status; the
   * correlation id and user of actions and changes), the (time, id) indexes of keyset pages in place of the time
   * indexes, GIN indexes and text search, and on PostgreSQL the writing transaction of each row (stored order).
   * The statements `SqlStore` runs at start with `createTables`.
   */
  class ActionLogReadsMigration1767225600000 implements MigrationInterface {
    name = 'ActionLogReadsMigration1767225600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await runProgram(queryOf(queryRunner), migrateSchema(engineOf(queryRunner), tablesOf(queryRunner, names)));
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await runProgram(queryOf(queryRunner), revertSchema(engineOf(queryRunner), tablesOf(queryRunner, names)));
    }
  }

  /** For tables of earlier versions: an index on `expires_at` of the actions, changes and activities, for `purge`. */
  class ActionLogRetentionMigration1796083200000 implements MigrationInterface {
    name = 'ActionLogRetentionMigration1796083200000';

    async up(queryRunner: QueryRunner): Promise<void> {
      for (const [table, index] of expiryIndexes(tablesOf(queryRunner, names))) {
        await queryRunner.query(
          `CREATE INDEX IF NOT EXISTS ${quoteName(sqlIndexName(table, index))} ON ${quoteName(table)} ("expires_at")`,
        );
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const [table, index] of expiryIndexes(tablesOf(queryRunner, names))) {
        await queryRunner.query(`DROP INDEX IF EXISTS ${quoteName(sqlIndexName(table, index))}`);
      }
    }
  }

  /** The table of option `latestActions` (`action_latest`), with its unique (actor, action type) index. */
  class ActionLogLatestActionsMigration1796169600000 implements MigrationInterface {
    name = 'ActionLogLatestActionsMigration1796169600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      for (const sql of oneTableStatements(engineOf(queryRunner), tablesOf(queryRunner, names), 'latestActions'))
        await queryRunner.query(sql);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP TABLE IF EXISTS ${quoteName(tablesOf(queryRunner, names).latestActions)}`);
    }
  }

  /** For tables of earlier versions: the checkpoints table and the `integrity` column of the mirrors (tamper evidence). */
  class ActionLogIntegrityMigration1798761600000 implements MigrationInterface {
    name = 'ActionLogIntegrityMigration1798761600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await runProgram(queryOf(queryRunner), migrateSchema(engineOf(queryRunner), tablesOf(queryRunner, names)));
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const tables = tablesOf(queryRunner, names);
      await queryRunner.query(`DROP TABLE IF EXISTS ${quoteName(tables.checkpoints)}`);
      for (const key of ['actionLogs', 'modelLogs', 'activities'] as const) {
        await queryRunner.query(`ALTER TABLE ${quoteName(tables[key])} DROP COLUMN ${quoteName('integrity')}`);
      }
    }
  }

  /**
   * PostgreSQL: the text index of `q` over the words split at punctuation, as SQLite and MongoDB split them (the
   * index of earlier versions kept an email, a host or a version as one token, so `q: 'alice'` missed them).
   */
  class ActionLogSearchWordsMigration1798848000000 implements MigrationInterface {
    name = 'ActionLogSearchWordsMigration1798848000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (engineOf(queryRunner) !== 'postgres') return;
      for (const sql of searchStatements('postgres', tablesOf(queryRunner, names).actionLogs)) await queryRunner.query(sql);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      if (engineOf(queryRunner) !== 'postgres') return;
      for (const sql of unsplitSearchStatements(tablesOf(queryRunner, names).actionLogs)) await queryRunner.query(sql);
    }
  }

  return [
    ActionLogMigration1763856000000,
    ActionLogRequestIdsMigration1764547200000,
    ActionLogReadsMigration1767225600000,
    ActionLogRetentionMigration1796083200000,
    ActionLogLatestActionsMigration1796169600000,
    ActionLogIntegrityMigration1798761600000,
    ActionLogSearchWordsMigration1798848000000,
  ];
}

const EXPIRY: IndexSpec = { fields: [['expires_at', 1]], only: 'sql' };

/** The `expires_at` indexes the retention migration adds (the requests table always had one). */
function expiryIndexes(tables: SqlTables): Array<[string, IndexSpec]> {
  return (['actionLogs', 'modelLogs', 'activities'] as const).map((key) => [tables[key], EXPIRY]);
}

/** Every migration of the store's tables with the default names, in order: `migrations: [...yours, ...ActionLogMigrations]`. */
export const ActionLogMigrations = actionLogMigrations();

/** The store's own tables are never audited. */
const STORE_ENTITY_NAMES: ReadonlySet<string> = new Set(KEYS.map((key) => TABLES[key].entity));

export function isStoreEntity(metadata: EntityMetadata): boolean {
  return STORE_ENTITY_NAMES.has(metadata.name);
}
