import type {
  ActionEntry,
  ActionLogDocument,
  ActivityDocument,
  ModelLog,
  ModelLogDocument,
  RequestDocument,
} from '../../shared/document.js';
import { unescapeKeys } from '../../build/sanitize/keys.js';
import { TABLES, type TableKey } from '../tables.js';
import { type ActionQuery, type ActivityQuery, DEFAULT_QUERY_LIMIT, type ModelLogQuery, type RequestQuery } from '../store.js';
import type { SqlDialect } from './sql-dialects.js';
import { quoteName, type SqlTables } from './sql-schema.js';
import type { SqlStep } from './sql-writes.js';
import type { SqlRow } from './sql-types.js';

interface Page {
  limit?: number;
  offset?: number;
  order?: 'asc' | 'desc';
}

/** A `SELECT` taking shape: conditions with their parameters, numbered as the dialect wants. */
class Select {
  private readonly conditions: string[] = [];
  readonly params: unknown[] = [];

  constructor(private readonly d: SqlDialect) {}

  /** Adds a condition; `?` in it stands for the next parameter. */
  where(condition: string, ...values: unknown[]): this {
    let i = 0;
    this.conditions.push(condition.replace(/\?/g, () => this.param(values[i++])));
    return this;
  }

  param(value: unknown): string {
    this.params.push(value);
    return this.d.param(this.params.length);
  }

  whereClause(): string {
    return this.conditions.length > 0 ? ` WHERE ${this.conditions.join(' AND ')}` : '';
  }
}

/** The statements of the store's reads, and the documents their rows become, for one dialect and set of tables. */
export class SqlReads {
  constructor(
    private readonly d: SqlDialect,
    private readonly t: SqlTables,
    private readonly postgres: boolean,
  ) {}

  requests(query: RequestQuery): SqlStep {
    const s = new Select(this.d);
    for (const key of ['request_uuid', 'module', 'correlation_id', 'user_id'] as const) {
      if (query[key] !== undefined) s.where(`${quoteName(key)} = ?`, query[key]);
    }
    if (query.model !== undefined || query.model_id !== undefined) {
      if (this.postgres) {
        const probe: Record<string, string> = {};
        if (query.model !== undefined) probe.model = query.model;
        if (query.model_id !== undefined) probe.model_id = query.model_id;
        s.where(`"details" -> 'model_logs' @> CAST(? AS jsonb)`, JSON.stringify([probe]));
      } else {
        const fields = (['model', 'model_id'] as const).filter((field) => query[field] !== undefined);
        const matches = fields.map((field) => `json_extract(ml.value, '$.${field}') = ?`);
        s.where(
          `EXISTS (SELECT 1 FROM json_each("details", '$.model_logs') AS ml WHERE ${['1 = 1', ...matches].join(' AND ')})`,
          ...fields.map((field) => query[field]),
        );
      }
    }
    return this.select('requests', s, 'timestamp', query);
  }

  actions(query: ActionQuery): SqlStep {
    const s = new Select(this.d);
    for (const key of ['request_uuid', 'actor_id', 'action_type', 'action_category', 'target_type', 'target_id'] as const) {
      if (query[key] !== undefined) s.where(`${quoteName(key)} = ?`, query[key]);
    }
    if (!query.include_inactive) s.where('"is_active" = ?', this.d.bool(true));
    return this.select('actionLogs', s, 'emitted_at', query);
  }

  modelLogs(query: ModelLogQuery): SqlStep {
    const s = new Select(this.d);
    for (const key of ['request_uuid', 'model', 'model_id'] as const) {
      if (query[key] !== undefined) s.where(`${quoteName(key)} = ?`, query[key]);
    }
    return this.select('modelLogs', s, 'timestamp', query);
  }

  activities(query: ActivityQuery): SqlStep {
    const s = new Select(this.d);
    for (const key of ['user_id', 'request_uuid'] as const) {
      if (query[key] !== undefined) s.where(`${quoteName(key)} = ?`, query[key]);
    }
    return this.select('activities', s, 'activity_date', query);
  }

  private select(key: TableKey, s: Select, timeColumn: string, page: Page & { from?: Date; to?: Date }): SqlStep {
    const time = quoteName(timeColumn);
    if (page.from !== undefined) s.where(`${time} >= ?`, this.d.date(page.from));
    if (page.to !== undefined) s.where(`${time} <= ?`, this.d.date(page.to));
    const dir = page.order === 'asc' ? 'ASC' : 'DESC';
    const limit = s.param(page.limit ?? DEFAULT_QUERY_LIMIT);
    const offset = s.param(page.offset ?? 0);
    return {
      sql: `SELECT * FROM ${quoteName(this.t[key])}${s.whereClause()} ORDER BY ${time} ${dir}, "id" ${dir} LIMIT ${limit} OFFSET ${offset}`,
      params: s.params,
    };
  }

  /** A row's values as the document has them: JSON parsed, dates as `Date`s, booleans as booleans. */
  private decode(key: TableKey, row: SqlRow): SqlRow {
    const out: SqlRow = {};
    for (const [name, column] of Object.entries(TABLES[key].columns)) {
      const value = row[name];
      if (column.kind === 'json') out[name] = this.d.readJson(value);
      else if (column.kind === 'date') out[name] = this.d.readDate(value);
      else if (column.kind === 'bool') out[name] = value === null || value === undefined ? value : Boolean(value);
      else out[name] = value;
    }
    return out;
  }

  requestDocument(raw: SqlRow): RequestDocument {
    const row = this.decode('requests', raw);
    const doc: Record<string, unknown> = { _id: row.id, uid: row.uid, request_uuid: row.request_uuid };
    if (row.module !== null) doc.module = row.module;
    if (row.timestamp !== null) doc.timestamp = row.timestamp;
    doc.details = reviveDetails(row.details as Partial<RequestDocument['details']>);
    if (row.correlation_id !== null) doc.correlation_id = row.correlation_id;
    if (row.integrity !== null) doc.integrity = row.integrity;
    if (row.expires_at !== null) doc.expires_at = row.expires_at;
    return unescapeKeys(doc) as unknown as RequestDocument;
  }

  actionDocument(raw: SqlRow): ActionLogDocument {
    const { id, uid, expires_at, ...fields } = this.decode('actionLogs', raw);
    const doc: Record<string, unknown> = { _id: id, ...fields };
    if (expires_at !== null) doc.expires_at = expires_at;
    return unescapeKeys(doc) as unknown as ActionLogDocument;
  }

  modelLogDocument(raw: SqlRow): ModelLogDocument {
    const { id, uid, expires_at, truncated, ...fields } = this.decode('modelLogs', raw);
    const doc: Record<string, unknown> = { _id: id, ...fields };
    if (truncated) doc.truncated = true;
    if (expires_at !== null) doc.expires_at = expires_at;
    return unescapeKeys(doc) as unknown as ModelLogDocument;
  }

  activityDocument(raw: SqlRow): ActivityDocument {
    const { id, uid, user_id, expires_at, ...fields } = this.decode('activities', raw);
    const doc: Record<string, unknown> = { _id: id, ...fields };
    if (expires_at !== null) doc.expires_at = expires_at;
    return unescapeKeys(doc) as unknown as ActivityDocument;
  }
}

const toDate = (value: unknown): Date => (value instanceof Date ? value : new Date(value as string));

/** JSON columns bring dates back as strings: the document's own date fields become Dates again. */
function reviveDetails(details: Partial<RequestDocument['details']>): RequestDocument['details'] {
  return Object.assign({ request: null, response: null }, details, {
    model_logs: (details.model_logs ?? []).map((m: ModelLog) => Object.assign({}, m, { timestamp: toDate(m.timestamp) })),
    actions: (details.actions ?? []).map((a: ActionEntry) =>
      Object.assign({}, a, { emitted_at: toDate(a.emitted_at), saved_at: a.saved_at === null ? null : toDate(a.saved_at) }),
    ),
  });
}
