import { type ColumnSpec, sqlIndexName, TABLES, type TableKey } from 'actionlog/adapter-kit';
import {
  EntitySchema,
  type EntityMetadata,
  type EntitySchemaColumnOptions,
  type MigrationInterface,
  type QueryRunner,
  Table,
} from 'typeorm';
import { isSqliteFamily } from './entity-state.js';

/** The database types the SQL store supports. */
export type SqlStoreDialect = 'postgres' | 'sqlite' | 'better-sqlite3';

interface Dialect {
  json: EntitySchemaColumnOptions['type'];
  date: EntitySchemaColumnOptions['type'];
}

function dialectOf(type: string): Dialect {
  if (type === 'postgres') return { json: 'jsonb', date: 'timestamptz' };
  if (isSqliteFamily(type)) return { json: 'json', date: 'datetime' };
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
    case 'bool':
      return { type: 'boolean', default: column.default };
  }
}

const KEYS = Object.keys(TABLES) as TableKey[];

/**
 * The SQL store's entities for a data source of this type: add them to `entities` (and
 * `...ActionLogMigrations` to `migrations`, or use `synchronize`).
 */
export function actionLogEntities(type: SqlStoreDialect | (string & {})): EntitySchema[] {
  const d = dialectOf(type);
  return KEYS.map((key) => {
    const table = TABLES[key];
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- TypeORM types its options as a class; it reads only their fields
    return new EntitySchema({
      name: table.entity,
      tableName: table.name,
      columns: Object.fromEntries(Object.entries(table.columns).map(([name, column]) => [name, columnOf(column, d)])),
      indices: table.indexes
        .filter((index) => index.only !== 'mongo')
        .map((index) => ({ name: sqlIndexName(table.name, index), columns: index.fields.map(([field]) => field), unique: index.unique })),
    });
  });
}

/**
 * Creates (and on revert drops) the store's tables with their indexes, from the entities of
 * `actionLogEntities()` (jsonb and timestamptz on PostgreSQL), so the schema and the entities always agree.
 */
export class ActionLogMigration1763856000000 implements MigrationInterface {
  name = 'ActionLogMigration1763856000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const connection = queryRunner.dataSource;
    for (const key of KEYS) {
      const name = TABLES[key].entity;
      if (!connection.hasMetadata(name))
        throw new Error(`ActionLogMigration: add actionLogEntities('${connection.options.type}') to the DataSource entities`);
      await queryRunner.createTable(Table.create(connection.getMetadata(name), connection.driver), true, false, true);
    }
    if (connection.options.type === 'postgres') {
      // Finding requests by the records they changed: a jsonb containment index over their model logs.
      await queryRunner.query(
        `CREATE INDEX IF NOT EXISTS "requests_model_logs" ON "requests" USING GIN (("details" -> 'model_logs') jsonb_path_ops)`,
      );
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const key of KEYS) await queryRunner.dropTable(queryRunner.dataSource.getMetadata(TABLES[key].entity).tableName, true);
  }
}

/**
 * For tables made by the first migration: `request_uuid` was unique, and would refuse two requests claiming one id;
 * the server's `uid` is the key now. (Tables made after it already have these indexes.)
 */
export class ActionLogRequestIdsMigration1764547200000 implements MigrationInterface {
  name = 'ActionLogRequestIdsMigration1764547200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const table = queryRunner.dataSource.getMetadata(TABLES.requests.entity).tableName;
    const name = (index: string) => `"${index.replace(/"/g, '""')}"`;
    await queryRunner.query(`DROP INDEX IF EXISTS ${name(`${table}_request_uuid`)}`);
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS ${name(`${table}_request_uuid`)} ON ${name(table)} ("request_uuid")`);
    await queryRunner.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${name(`${table}_uid`)} ON ${name(table)} ("uid")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const table = queryRunner.dataSource.getMetadata(TABLES.requests.entity).tableName;
    await queryRunner.query(`DROP INDEX IF EXISTS "${table}_uid"`);
  }
}

/** Every migration of the store's tables, in order: `migrations: [...yours, ...ActionLogMigrations]`. */
export const ActionLogMigrations = [ActionLogMigration1763856000000, ActionLogRequestIdsMigration1764547200000];

/** The store's own tables are never audited. */
const STORE_ENTITY_NAMES: ReadonlySet<string> = new Set(KEYS.map((key) => TABLES[key].entity));

export function isStoreEntity(metadata: EntityMetadata): boolean {
  return STORE_ENTITY_NAMES.has(metadata.name);
}
