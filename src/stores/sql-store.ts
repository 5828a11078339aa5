import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ActionEntry, ActionLogDocument, ActivityDocument, ModelLog, ModelLogDocument, RequestDocument } from '../document.js';
import { ActionLogConfigError } from '../errors.js';
import { parseOptions } from '../options.js';
import { unescapeKeys } from '../sanitize/keys.js';
import {
  type ActionQuery,
  type ActivityQuery,
  DEFAULT_QUERY_LIMIT,
  type ModelLogQuery,
  type RequestAppend,
  type RequestQuery,
  type Store,
  type StoreBatch,
} from './store.js';

/** Entity names of the SQL store's tables (`actionLogEntities()` in `actionlog/typeorm` defines them). */
export const SQL_STORE_ENTITIES = {
  requests: 'ActionLogRequest',
  actionLogs: 'ActionLogAction',
  modelLogs: 'ActionLogModelLog',
  activities: 'ActionLogActivity',
} as const;

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The parts of a TypeORM DataSource the store uses, structurally, so the core never imports TypeORM. */
export interface SqlDataSourceLike {
  readonly options: { readonly type: string };
  readonly isInitialized: boolean;
  hasMetadata(target: any): boolean;
  transaction<T>(run: (manager: any) => Promise<T>): Promise<T>;
  readonly manager: any;
}

/** Options of `new SqlStore(...)`. */
export interface SqlStoreOptions {
  /** A TypeORM DataSource whose `entities` include `actionLogEntities(type)` from `actionlog/typeorm`. */
  dataSource: SqlDataSourceLike;
}

const schema = z.strictObject({
  dataSource: z.custom<SqlDataSourceLike>(
    (v) => v !== null && typeof v === 'object' && typeof (v as SqlDataSourceLike).transaction === 'function' && typeof (v as SqlDataSourceLike).hasMetadata === 'function',
    { message: 'must be a TypeORM DataSource' },
  ),
});

type Row = Record<string, any>;

const E = SQL_STORE_ENTITIES;

/**
 * Stores documents in SQL tables through TypeORM (PostgreSQL with jsonb, SQLite with JSON text). Each write
 * or append runs in one transaction; retries are idempotent (unique `request_uuid`, a `uid` per mirror row,
 * applied append ids). Its own writes call no subscribers, so they are never audited.
 */
export class SqlStore implements Store {
  private readonly dataSource: SqlDataSourceLike;
  private readonly postgres: boolean;
  /** The id each document of a batch gets on its first attempt, so that a retry is recognised. */
  private readonly uids = new WeakMap<object, string>();

  constructor(options: SqlStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ActionLogConfigError([{ path: '', message: 'options must be an object: { dataSource }' }], 'SqlStore options');
    }
    this.dataSource = parseOptions(schema, options, 'SqlStore options').dataSource;
    this.postgres = this.dataSource.options.type === 'postgres';
  }

  async init(): Promise<void> {
    if (!this.dataSource.isInitialized) throw new Error('SqlStore: initialize the DataSource before the logger writes');
    const missing = Object.values(E).filter((name) => !this.dataSource.hasMetadata(name));
    if (missing.length > 0) {
      throw new ActionLogConfigError(
        [{ path: 'dataSource', message: `has no entity ${missing.join(', ')}: add actionLogEntities('${this.dataSource.options.type}') from actionlog/typeorm to its entities` }],
        'SqlStore options',
      );
    }
  }

  async write(batch: StoreBatch): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.writeRequests(manager, batch.requests);
      await this.insertIgnoringDuplicates(manager, E.actionLogs, batch.actionLogs.map((d) => this.actionRow(d)));
      await this.insertIgnoringDuplicates(manager, E.modelLogs, batch.modelLogs.map((d) => this.modelLogRow(d)));
      await this.insertIgnoringDuplicates(manager, E.activities, batch.activities.map((d) => this.activityRow(d)));
    });
  }

  async append(appends: RequestAppend[]): Promise<void> {
    if (appends.length === 0) return;
    await this.dataSource.transaction(async (manager) => {
      for (const append of appends) {
        const row = await this.lockedRequest(manager, append.request_uuid);
        if (!row) {
          // The document has not arrived: a stub without timestamp holds the events until it does.
          await this.insertRows(manager, E.requests, [
            {
              uid: randomUUID(),
              request_uuid: append.request_uuid,
              module: append.module,
              timestamp: null,
              details: withCounts({ model_logs: append.model_logs, actions: append.actions }, append.model_logs_spilled, append.actions_spilled),
              appends: [append.append_id],
            },
          ]);
          continue;
        }
        const applied: string[] = row.appends ?? [];
        if (applied.includes(append.append_id)) continue;
        const details = row.details;
        details.model_logs = [...(details.model_logs ?? []), ...append.model_logs];
        details.actions = [...(details.actions ?? []), ...append.actions];
        await this.updateRequest(manager, row.id, {
          details: withCounts(details, append.model_logs_spilled, append.actions_spilled),
          appends: [...applied, append.append_id],
        });
      }
    });
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
    const rows: Row[] = await this.page(qb, 'r.timestamp', 'r.id', query).getMany();
    return rows.map((r) => this.requestDocument(r));
  }

  async findActions(query: ActionQuery = {}): Promise<ActionLogDocument[]> {
    const qb = this.dataSource.manager.createQueryBuilder(E.actionLogs, 'a');
    for (const key of ['request_uuid', 'actor_id', 'action_type', 'action_category', 'target_type', 'target_id'] as const) {
      if (query[key] !== undefined) qb.andWhere(`a.${key} = :${key}`, { [key]: query[key] });
    }
    if (!query.include_inactive) qb.andWhere('a.is_active = :active', { active: true });
    this.range(qb, 'a.emitted_at', query.from, query.to);
    const rows: Row[] = await this.page(qb, 'a.emitted_at', 'a.id', query).getMany();
    return rows.map((r) => this.actionDocument(r));
  }

  async findModelLogs(query: ModelLogQuery = {}): Promise<ModelLogDocument[]> {
    const qb = this.dataSource.manager.createQueryBuilder(E.modelLogs, 'm');
    for (const key of ['request_uuid', 'model', 'model_id'] as const) {
      if (query[key] !== undefined) qb.andWhere(`m.${key} = :${key}`, { [key]: query[key] });
    }
    this.range(qb, 'm.timestamp', query.from, query.to);
    const rows: Row[] = await this.page(qb, 'm.timestamp', 'm.id', query).getMany();
    return rows.map((r) => this.modelLogDocument(r));
  }

  async findActivities(query: ActivityQuery = {}): Promise<ActivityDocument[]> {
    const qb = this.dataSource.manager.createQueryBuilder(E.activities, 'v');
    if (query.user_id !== undefined) qb.andWhere('v.user_id = :user_id', { user_id: query.user_id });
    if (query.request_uuid !== undefined) qb.andWhere('v.request_uuid = :request_uuid', { request_uuid: query.request_uuid });
    this.range(qb, 'v.activity_date', query.from, query.to);
    const rows: Row[] = await this.page(qb, 'v.activity_date', 'v.id', query).getMany();
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

  private async writeRequests(manager: any, docs: RequestDocument[]): Promise<void> {
    if (docs.length === 0) return;
    const existing: Row[] = await manager
      .createQueryBuilder(E.requests, 'r')
      .select(['r.id', 'r.uid', 'r.request_uuid', 'r.timestamp'])
      .where('r.request_uuid IN (:...uuids)', { uuids: docs.map((d) => d.request_uuid) })
      .getMany();
    const byUuid = new Map(existing.map((r) => [r.request_uuid as string, r]));
    const fresh: Row[] = [];
    for (const doc of docs) {
      const row = byUuid.get(doc.request_uuid);
      if (!row) fresh.push(this.requestRow(doc));
      else if (row.timestamp === null) await this.mergeIntoStub(manager, doc);
      else if (row.uid !== this.uid(doc)) {
        // Another request reused this id: keep this one under a derived id, once.
        const renamed = { ...this.requestRow(doc), request_uuid: `${doc.request_uuid}:${this.uid(doc)}` };
        if (!(await this.lockedRequest(manager, renamed.request_uuid))) fresh.push(renamed);
      }
    }
    await this.insertRows(manager, E.requests, fresh);
  }

  private async mergeIntoStub(manager: any, doc: RequestDocument): Promise<void> {
    const stub = (await this.lockedRequest(manager, doc.request_uuid))!;
    const late = stub.details;
    const details = {
      ...doc.details,
      model_logs: [...doc.details.model_logs, ...(late.model_logs ?? [])],
      actions: [...doc.details.actions, ...(late.actions ?? [])],
    };
    const merged = this.requestRow({ ...doc, details: withCounts(details, late.model_logs_spilled ?? 0, late.actions_spilled ?? 0) });
    await this.updateRequest(manager, stub.id, { ...merged, uid: this.uid(doc), appends: stub.appends });
  }

  private async lockedRequest(manager: any, requestUuid: string): Promise<Row | null> {
    const qb = manager.createQueryBuilder(E.requests, 'r').where('r.request_uuid = :uuid', { uuid: requestUuid });
    if (this.postgres) qb.setLock('pessimistic_write');
    return (await qb.getOne()) ?? null;
  }

  private async updateRequest(manager: any, id: number, values: Row): Promise<void> {
    await manager.createQueryBuilder().update(E.requests).set(values).where('id = :id', { id }).callListeners(false).updateEntity(false).execute();
  }

  private async insertRows(manager: any, entity: string, rows: Row[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      await manager.createQueryBuilder().insert().into(entity).values(rows.slice(i, i + 200)).callListeners(false).updateEntity(false).execute();
    }
  }

  /** Mirror rows: their `uid` is unique, so rows stored by an earlier attempt are skipped. */
  private async insertIgnoringDuplicates(manager: any, entity: string, rows: Row[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      await manager
        .createQueryBuilder()
        .insert()
        .into(entity)
        .values(rows.slice(i, i + 200))
        .orIgnore()
        .callListeners(false)
        .updateEntity(false)
        .execute();
    }
  }

  private range(qb: any, column: string, from?: Date, to?: Date): void {
    if (from !== undefined) qb.andWhere(`${column} >= :from`, { from });
    if (to !== undefined) qb.andWhere(`${column} <= :to`, { to });
  }

  private page(qb: any, timeColumn: string, idColumn: string, page: { limit?: number; offset?: number; order?: 'asc' | 'desc' }): any {
    const dir = page.order === 'asc' ? 'ASC' : 'DESC';
    return qb
      .orderBy(timeColumn, dir)
      .addOrderBy(idColumn, dir)
      .skip(page.offset ?? 0)
      .take(page.limit ?? DEFAULT_QUERY_LIMIT);
  }

  private requestRow(doc: RequestDocument): Row {
    const user = doc.details.request?.user_details ?? doc.details.run?.user_details ?? null;
    return {
      uid: this.uid(doc),
      request_uuid: doc.request_uuid,
      module: doc.module,
      timestamp: doc.timestamp,
      correlation_id: doc.correlation_id ?? null,
      user_id: user?._id ?? null,
      details: doc.details,
      integrity: doc.integrity ?? null,
      expires_at: doc.expires_at ?? null,
      appends: [],
    };
  }

  private actionRow(doc: ActionLogDocument): Row {
    const { _id, ...fields } = doc;
    return { ...fields, uid: this.uid(doc), expires_at: doc.expires_at ?? null };
  }

  private modelLogRow(doc: ModelLogDocument): Row {
    const { _id, truncated, ...fields } = doc;
    return { ...fields, truncated: truncated ?? false, uid: this.uid(doc), expires_at: doc.expires_at ?? null };
  }

  private activityRow(doc: ActivityDocument): Row {
    const { _id, ...fields } = doc;
    return { ...fields, user_id: doc.user._id, uid: this.uid(doc), expires_at: doc.expires_at ?? null };
  }

  private requestDocument(row: Row): RequestDocument {
    const doc: Record<string, unknown> = { _id: row.id, request_uuid: row.request_uuid };
    if (row.module !== null) doc.module = row.module;
    if (row.timestamp !== null) doc.timestamp = toDate(row.timestamp);
    doc.details = reviveDetails(row.details);
    if (row.correlation_id !== null) doc.correlation_id = row.correlation_id;
    if (row.integrity !== null) doc.integrity = row.integrity;
    if (row.expires_at !== null) doc.expires_at = toDate(row.expires_at);
    return unescapeKeys(doc) as unknown as RequestDocument;
  }

  private actionDocument(row: Row): ActionLogDocument {
    const { id, uid, expires_at, ...fields } = row;
    const doc: Record<string, unknown> = { _id: id, ...fields, emitted_at: toDate(fields.emitted_at), saved_at: fields.saved_at === null ? null : toDate(fields.saved_at) };
    if (expires_at !== null) doc.expires_at = toDate(expires_at);
    return unescapeKeys(doc) as unknown as ActionLogDocument;
  }

  private modelLogDocument(row: Row): ModelLogDocument {
    const { id, uid, expires_at, truncated, ...fields } = row;
    const doc: Record<string, unknown> = { _id: id, ...fields, timestamp: toDate(fields.timestamp) };
    if (truncated) doc.truncated = true;
    if (expires_at !== null) doc.expires_at = toDate(expires_at);
    return unescapeKeys(doc) as unknown as ModelLogDocument;
  }

  private activityDocument(row: Row): ActivityDocument {
    const { id, uid, user_id, expires_at, ...fields } = row;
    const doc: Record<string, unknown> = { _id: id, ...fields, activity_date: toDate(fields.activity_date) };
    if (expires_at !== null) doc.expires_at = toDate(expires_at);
    return unescapeKeys(doc) as unknown as ActivityDocument;
  }
}

function withCounts<T extends Record<string, any>>(details: T, modelLogs: number, actions: number): T {
  const out: Record<string, any> = { ...details };
  if (modelLogs > 0) out.model_logs_spilled = (out.model_logs_spilled ?? 0) + modelLogs;
  if (actions > 0) out.actions_spilled = (out.actions_spilled ?? 0) + actions;
  return out as T;
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string);
}

/** JSON columns bring dates back as strings: the document's own date fields become Dates again. */
function reviveDetails(details: Row): RequestDocument['details'] {
  const out = { ...details };
  out.model_logs = (details.model_logs ?? []).map((m: ModelLog) => ({ ...m, timestamp: toDate(m.timestamp) }));
  out.actions = (details.actions ?? []).map((a: ActionEntry) => ({
    ...a,
    emitted_at: toDate(a.emitted_at),
    saved_at: a.saved_at === null ? null : toDate(a.saved_at),
  }));
  return out as RequestDocument['details'];
}
