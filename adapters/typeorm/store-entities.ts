import { EntitySchema, type EntityMetadata, type EntitySchemaColumnOptions, type MigrationInterface, type QueryRunner, Table } from 'typeorm';
import { SQL_STORE_ENTITIES } from 'actionlog';
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

const id = (): EntitySchemaColumnOptions => ({ type: 'integer', primary: true, generated: 'increment' });
const text = (length: number, nullable = true): EntitySchemaColumnOptions => ({ type: 'varchar', length, nullable });

/** The column definitions of the four tables, by entity name. */
function columnsOf(d: Dialect): Record<string, { table: string; columns: Record<string, EntitySchemaColumnOptions>; indices: Array<{ name: string; columns: string[]; unique?: boolean }> }> {
  const json = (nullable = true): EntitySchemaColumnOptions => ({ type: d.json, nullable });
  const date = (nullable = true): EntitySchemaColumnOptions => ({ type: d.date, nullable });
  return {
    [SQL_STORE_ENTITIES.requests]: {
      table: 'requests',
      columns: {
        id: id(),
        uid: text(36, false),
        request_uuid: text(200, false),
        module: text(200),
        timestamp: date(),
        correlation_id: text(256),
        user_id: text(256),
        details: json(false),
        integrity: json(),
        expires_at: date(),
        appends: json(),
      },
      indices: [
        { name: 'requests_request_uuid', columns: ['request_uuid'], unique: true },
        { name: 'requests_timestamp', columns: ['timestamp'] },
        { name: 'requests_module_timestamp', columns: ['module', 'timestamp'] },
        { name: 'requests_correlation_id', columns: ['correlation_id'] },
        { name: 'requests_user_id_timestamp', columns: ['user_id', 'timestamp'] },
        { name: 'requests_expires_at', columns: ['expires_at'] },
      ],
    },
    [SQL_STORE_ENTITIES.actionLogs]: {
      table: 'action_logs',
      columns: {
        id: id(),
        uid: text(36, false),
        request_uuid: text(200, false),
        module: text(200),
        action_type: text(200, false),
        action_category: text(200),
        actor_id: text(256),
        actor: json(),
        target_type: text(200),
        target_id: text(256),
        target: json(),
        context: json(),
        note: { type: 'text', nullable: true },
        source: json(),
        details: json(),
        tags: json(),
        entity_path: json(),
        emitted_at: date(false),
        saved_at: date(),
        is_active: { type: 'boolean', default: true },
        expires_at: date(),
      },
      indices: [
        { name: 'action_logs_uid', columns: ['uid'], unique: true },
        { name: 'action_logs_actor_id_action_type', columns: ['actor_id', 'action_type'] },
        { name: 'action_logs_action_type', columns: ['action_type'] },
        { name: 'action_logs_target_type_target_id', columns: ['target_type', 'target_id'] },
        { name: 'action_logs_emitted_at', columns: ['emitted_at'] },
        { name: 'action_logs_request_uuid', columns: ['request_uuid'] },
      ],
    },
    [SQL_STORE_ENTITIES.modelLogs]: {
      table: 'model_logs',
      columns: {
        id: id(),
        uid: text(36, false),
        request_uuid: text(200, false),
        module: text(200),
        model_id: text(512),
        model_class_name: text(200, false),
        model_namespace: text(400, false),
        model: text(200, false),
        action: text(20, false),
        timestamp: date(false),
        model_details: json(false),
        truncated: { type: 'boolean', default: false },
        expires_at: date(),
      },
      indices: [
        { name: 'model_logs_uid', columns: ['uid'], unique: true },
        { name: 'model_logs_model_model_id_timestamp', columns: ['model', 'model_id', 'timestamp'] },
        { name: 'model_logs_request_uuid', columns: ['request_uuid'] },
        { name: 'model_logs_timestamp', columns: ['timestamp'] },
      ],
    },
    [SQL_STORE_ENTITIES.activities]: {
      table: 'activity_logs',
      columns: {
        id: id(),
        uid: text(36, false),
        user: json(false),
        user_id: text(256),
        ip_address: text(100),
        action: text(1000, false),
        activity_date: date(false),
        link_preview: text(2048),
        request_uuid: text(200),
        expires_at: date(),
      },
      indices: [
        { name: 'activity_logs_uid', columns: ['uid'], unique: true },
        { name: 'activity_logs_user_id_activity_date', columns: ['user_id', 'activity_date'] },
        { name: 'activity_logs_request_uuid', columns: ['request_uuid'] },
      ],
    },
  };
}

/**
 * The SQL store's entities for a data source of this type: add them to `entities` (and
 * `ActionLogMigration` to `migrations`, or use `synchronize`).
 */
export function actionLogEntities(type: SqlStoreDialect | string): EntitySchema[] {
  return Object.entries(columnsOf(dialectOf(type))).map(
    ([name, table]) => new EntitySchema({ name, tableName: table.table, columns: table.columns, indices: table.indices }),
  );
}

/**
 * Creates (and on revert drops) the store's tables with their indexes, from the entities of
 * `actionLogEntities()` (jsonb and timestamptz on PostgreSQL), so the schema and the entities always agree.
 */
export class ActionLogMigration1763856000000 implements MigrationInterface {
  name = 'ActionLogMigration1763856000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { connection } = queryRunner;
    for (const name of Object.values(SQL_STORE_ENTITIES)) {
      if (!connection.hasMetadata(name)) throw new Error(`ActionLogMigration: add actionLogEntities('${connection.options.type}') to the DataSource entities`);
      await queryRunner.createTable(Table.create(connection.getMetadata(name), connection.driver), true, false, true);
    }
    if (connection.options.type === 'postgres') {
      // Finding requests by the records they changed: a jsonb containment index over their model logs.
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS "requests_model_logs" ON "requests" USING GIN (("details" -> 'model_logs') jsonb_path_ops)`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const name of Object.values(SQL_STORE_ENTITIES)) await queryRunner.dropTable(queryRunner.connection.getMetadata(name).tableName, true);
  }
}

/** The store's own tables are never audited. */
const STORE_ENTITY_NAMES: ReadonlySet<string> = new Set(Object.values(SQL_STORE_ENTITIES));

export function isStoreEntity(metadata: EntityMetadata): boolean {
  return STORE_ENTITY_NAMES.has(metadata.name);
}
