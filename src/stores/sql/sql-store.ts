import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type {
  ActionEntry,
  ActionLogDocument,
  ActivityDocument,
  ModelLog,
  ModelLogDocument,
  RequestDocument,
} from '../../shared/document.js';
import { ActionLogConfigError } from '../../shared/errors.js';
import { parseOptions, requireObject } from '../../shared/parse-options.js';
import { unescapeKeys } from '../../build/sanitize/keys.js';
import { TABLES } from '../tables.js';
import { POSTGRES, SQLITE } from './sql-dialects.js';
import { type SqlProgram, SqlWrites } from './sql-writes.js';
import type { SqlDataSourceLike, SqlQueryBuilderLike, SqlRow } from './sql-types.js';
import { type BetterSqliteLike, preparedStatement } from './sqlite-statements.js';
import {
  type ActionQuery,
  type ActivityQuery,
  DEFAULT_QUERY_LIMIT,
  type ModelLogQuery,
  type RequestAppend,
  type RequestQuery,
  type Store,
  type StoreBatch,
} from '../store.js';

/** Options of `new SqlStore(...)`. */
export interface SqlStoreOptions {
  /** A TypeORM DataSource whose `entities` include `actionLogEntities(type)` from `actionlog/typeorm`. */
  dataSource: SqlDataSourceLike;
}

const schema = z.strictObject({
  dataSource: z.custom<SqlDataSourceLike>(
    (v) =>
      v !== null &&
      typeof v === 'object' &&
      typeof (v as SqlDataSourceLike).transaction === 'function' &&
      typeof (v as SqlDataSourceLike).hasMetadata === 'function',
    { error: 'must be a TypeORM DataSource' },
  ),
});

/** Entity names of the tables (`actionLogEntities()` in `actionlog/typeorm` defines the entities). */
const E = {
  requests: TABLES.requests.entity,
  actionLogs: TABLES.actionLogs.entity,
  modelLogs: TABLES.modelLogs.entity,
  activities: TABLES.activities.entity,
};

const SUPPORTED = ['postgres', 'better-sqlite3'];
/** How long a write waits for the app's transaction on the one SQLite connection to end before retrying later. */
const SQLITE_WAIT_MS = 5000;

/**
 * Stores documents in SQL tables of a TypeORM DataSource: PostgreSQL (jsonb, timestamptz) or SQLite through
 * better-sqlite3 (JSON text). Each write or append is one transaction of plain SQL: never audited (no
 * subscribers run), idempotent under retry (unique `request_uuid`, a `uid` per mirror row, applied append ids).
 * On SQLite it runs synchronously on the driver's connection once no app transaction is open, so its writes
 * can neither interleave with the app's queries nor be rolled back with them.
 */
export class SqlStore implements Store {
  private readonly dataSource: SqlDataSourceLike;
  private readonly postgres: boolean;
  /** The id each document of a batch gets on its first attempt, so that a retry is recognised. */
  private readonly uids = new WeakMap<object, string>();
  private writes: SqlWrites | undefined;

  constructor(options: SqlStoreOptions) {
    requireObject(options, '{ dataSource }', 'SqlStore options');
    this.dataSource = parseOptions(schema, options, 'SqlStore options').dataSource;
    const type = this.dataSource.options.type;
    if (!SUPPORTED.includes(type)) {
      throw new ActionLogConfigError(
        [{ path: 'dataSource', message: `is ${type}: the SQL store supports ${SUPPORTED.join(' and ')}` }],
        'SqlStore options',
      );
    }
    this.postgres = type === 'postgres';
  }

  async init(): Promise<void> {
    if (!this.dataSource.isInitialized) throw new Error('SqlStore: initialize the DataSource before the logger writes');
    const missing = Object.values(E).filter((name) => !this.dataSource.hasMetadata(name));
    if (missing.length > 0) {
      throw new ActionLogConfigError(
        [
          {
            path: 'dataSource',
            message: `has no entity ${missing.join(', ')}: add actionLogEntities('${this.dataSource.options.type}') from actionlog/typeorm to its entities`,
          },
        ],
        'SqlStore options',
      );
    }
    const table = (name: string) => this.dataSource.getMetadata(name).tableName;
    this.writes = new SqlWrites(
      this.postgres ? POSTGRES : SQLITE,
      { requests: table(E.requests), actionLogs: table(E.actionLogs), modelLogs: table(E.modelLogs), activities: table(E.activities) },
      (doc) => this.uid(doc),
    );
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async write(batch: StoreBatch): Promise<void> {
    await this.run(this.program().write(batch));
  }

  async append(appends: RequestAppend[]): Promise<void> {
    if (appends.length > 0) await this.run(this.program().append(appends));
  }

  async findRequests(query: RequestQuery = {}): Promise<RequestDocument[]> {
    const qb = this.dataSource.manager.createQueryBuilder(E.requests, 'r');
    for (const key of ['request_uuid', 'module', 'correlation_id', 'user_id'] as const) {
      if (query[key] !== undefined) qb.andWhere(`r.${key} = :${key}`, { [key]: query[key] });
    }
    if (query.model !== undefined || query.model_id !== undefined) {
      if (this.postgres) {
        const probe: Record<string, string> = {};
        if (query.model !== undefined) probe.model = query.model;
        if (query.model_id !== undefined) probe.model_id = query.model_id;
        qb.andWhere(`r.details -> 'model_logs' @> CAST(:probe AS jsonb)`, { probe: JSON.stringify([probe]) });
      } else {
        const parts = ['1 = 1'];
        if (query.model !== undefined) parts.push(`json_extract(ml.value, '$.model') = :model`);
        if (query.model_id !== undefined) parts.push(`json_extract(ml.value, '$.model_id') = :model_id`);
        qb.andWhere(`EXISTS (SELECT 1 FROM json_each(r.details, '$.model_logs') AS ml WHERE ${parts.join(' AND ')})`, {
          model: query.model,
          model_id: query.model_id,
        });
      }
    }
    this.range(qb, 'r.timestamp', query.from, query.to);
    const rows: SqlRow[] = await this.page(qb, 'r.timestamp', 'r.id', query).getMany();
    return rows.map((r) => this.requestDocument(r));
  }

  async findActions(query: ActionQuery = {}): Promise<ActionLogDocument[]> {
    const qb = this.dataSource.manager.createQueryBuilder(E.actionLogs, 'a');
    for (const key of ['request_uuid', 'actor_id', 'action_type', 'action_category', 'target_type', 'target_id'] as const) {
      if (query[key] !== undefined) qb.andWhere(`a.${key} = :${key}`, { [key]: query[key] });
    }
    if (!query.include_inactive) qb.andWhere('a.is_active = :active', { active: true });
    this.range(qb, 'a.emitted_at', query.from, query.to);
    const rows: SqlRow[] = await this.page(qb, 'a.emitted_at', 'a.id', query).getMany();
    return rows.map((r) => this.actionDocument(r));
  }

  async findModelLogs(query: ModelLogQuery = {}): Promise<ModelLogDocument[]> {
    const qb = this.dataSource.manager.createQueryBuilder(E.modelLogs, 'm');
    for (const key of ['request_uuid', 'model', 'model_id'] as const) {
      if (query[key] !== undefined) qb.andWhere(`m.${key} = :${key}`, { [key]: query[key] });
    }
    this.range(qb, 'm.timestamp', query.from, query.to);
    const rows: SqlRow[] = await this.page(qb, 'm.timestamp', 'm.id', query).getMany();
    return rows.map((r) => this.modelLogDocument(r));
  }

  async findActivities(query: ActivityQuery = {}): Promise<ActivityDocument[]> {
    const qb = this.dataSource.manager.createQueryBuilder(E.activities, 'v');
    if (query.user_id !== undefined) qb.andWhere('v.user_id = :user_id', { user_id: query.user_id });
    if (query.request_uuid !== undefined) qb.andWhere('v.request_uuid = :request_uuid', { request_uuid: query.request_uuid });
    this.range(qb, 'v.activity_date', query.from, query.to);
    const rows: SqlRow[] = await this.page(qb, 'v.activity_date', 'v.id', query).getMany();
    return rows.map((r) => this.activityDocument(r));
  }

  /** The DataSource belongs to the app: nothing to release here. */
  async close(): Promise<void> {}

  private uid(doc: object): string {
    let uid = this.uids.get(doc);
    if (!uid) {
      uid = randomUUID();
      this.uids.set(doc, uid);
    }
    return uid;
  }

  private program(): SqlWrites {
    if (!this.writes) throw new Error('SqlStore: init() has not run');
    return this.writes;
  }

  private async run(program: SqlProgram): Promise<void> {
    const sqlite = this.postgres ? undefined : (this.dataSource.driver as { databaseConnection?: BetterSqliteLike }).databaseConnection;
    if (!sqlite) {
      await this.dataSource.transaction(async (manager) => {
        for (let step = program.next(); !step.done;) {
          const rows = await manager.query(step.value.sql, step.value.params);
          step = program.next(Array.isArray(rows) ? (rows as SqlRow[]) : []);
        }
      });
      return;
    }
    // One connection for everything: inside an open app transaction our rows would share its fate.
    const deadline = Date.now() + SQLITE_WAIT_MS;
    while (sqlite.inTransaction) {
      if (Date.now() > deadline) throw new Error('SqlStore: the SQLite connection stayed inside a transaction; will retry');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    sqlite.transaction(() => {
      for (let step = program.next(); !step.done;) {
        const statement = preparedStatement(sqlite, step.value.sql);
        const rows = statement.reader ? statement.all(...step.value.params) : (statement.run(...step.value.params), []);
        step = program.next(rows);
      }
    })();
  }

  private range(qb: SqlQueryBuilderLike, column: string, from?: Date, to?: Date): void {
    if (from !== undefined) qb.andWhere(`${column} >= :from`, { from });
    if (to !== undefined) qb.andWhere(`${column} <= :to`, { to });
  }

  private page(
    qb: SqlQueryBuilderLike,
    timeColumn: string,
    idColumn: string,
    page: { limit?: number; offset?: number; order?: 'asc' | 'desc' },
  ): SqlQueryBuilderLike {
    const dir = page.order === 'asc' ? 'ASC' : 'DESC';
    return qb
      .orderBy(timeColumn, dir)
      .addOrderBy(idColumn, dir)
      .skip(page.offset ?? 0)
      .take(page.limit ?? DEFAULT_QUERY_LIMIT);
  }

  private requestDocument(row: SqlRow): RequestDocument {
    const doc: Record<string, unknown> = { _id: row.id, uid: row.uid, request_uuid: row.request_uuid };
    if (row.module !== null) doc.module = row.module;
    if (row.timestamp !== null) doc.timestamp = toDate(row.timestamp);
    doc.details = reviveDetails(row.details as Partial<RequestDocument['details']>);
    if (row.correlation_id !== null) doc.correlation_id = row.correlation_id;
    if (row.integrity !== null) doc.integrity = row.integrity;
    if (row.expires_at !== null) doc.expires_at = toDate(row.expires_at);
    return unescapeKeys(doc) as unknown as RequestDocument;
  }

  private actionDocument(row: SqlRow): ActionLogDocument {
    const { id, uid, expires_at, ...fields } = row;
    const doc: Record<string, unknown> = {
      _id: id,
      ...fields,
      emitted_at: toDate(fields.emitted_at),
      saved_at: fields.saved_at === null ? null : toDate(fields.saved_at),
    };
    if (expires_at !== null) doc.expires_at = toDate(expires_at);
    return unescapeKeys(doc) as unknown as ActionLogDocument;
  }

  private modelLogDocument(row: SqlRow): ModelLogDocument {
    const { id, uid, expires_at, truncated, ...fields } = row;
    const doc: Record<string, unknown> = { _id: id, ...fields, timestamp: toDate(fields.timestamp) };
    if (truncated) doc.truncated = true;
    if (expires_at !== null) doc.expires_at = toDate(expires_at);
    return unescapeKeys(doc) as unknown as ModelLogDocument;
  }

  private activityDocument(row: SqlRow): ActivityDocument {
    const { id, uid, user_id, expires_at, ...fields } = row;
    const doc: Record<string, unknown> = { _id: id, ...fields, activity_date: toDate(fields.activity_date) };
    if (expires_at !== null) doc.expires_at = toDate(expires_at);
    return unescapeKeys(doc) as unknown as ActivityDocument;
  }
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string);
}

/** JSON columns bring dates back as strings: the document's own date fields become Dates again. */
function reviveDetails(details: Partial<RequestDocument['details']>): RequestDocument['details'] {
  return Object.assign({ request: null, response: null }, details, {
    model_logs: (details.model_logs ?? []).map((m: ModelLog) => Object.assign({}, m, { timestamp: toDate(m.timestamp) })),
    actions: (details.actions ?? []).map((a: ActionEntry) =>
      Object.assign({}, a, { emitted_at: toDate(a.emitted_at), saved_at: a.saved_at === null ? null : toDate(a.saved_at) }),
    ),
  });
}
