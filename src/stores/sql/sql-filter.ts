import type { EntryKind, StoreFilter } from '../store.js';
import type { TableKey } from '../tables.js';
import type { SqlDialect } from './sql-dialects.js';
import { type Condition, type JsonConditions, POSTGRES_JSON, SQLITE_JSON } from './sql-json.js';
import { quoteName as q, type SqlEngine, type SqlTables } from './sql-schema.js';
import { searchCondition } from './sql-search.js';

/** The table of each kind. */
export const KIND_TABLE: Record<EntryKind, TableKey> = {
  requests: 'requests',
  actions: 'actionLogs',
  changes: 'modelLogs',
  activities: 'activities',
};

/** The column each kind is ordered by in time. */
export const TIME_COLUMN: Record<EntryKind, string> = {
  requests: 'timestamp',
  actions: 'emitted_at',
  changes: 'timestamp',
  activities: 'activity_date',
};

/** Who an entry is by: the column holding the request's user, the actor, the activity's user. */
export const ACTOR_COLUMN: Record<EntryKind, string> = {
  requests: 'user_id',
  actions: 'actor_id',
  changes: 'user_id',
  activities: 'user_id',
};

/** Conditions taking shape, with their parameters numbered as the dialect wants. */
export class SqlConditions {
  private readonly conditions: string[] = [];
  readonly params: unknown[] = [];

  constructor(private readonly d: SqlDialect) {}

  /** Adds a condition; each `?` in it stands for the next value. */
  where(condition: string, ...values: unknown[]): this {
    let i = 0;
    this.conditions.push(condition.replace(/\?/g, () => this.param(values[i++])));
    return this;
  }

  add([condition, ...values]: Condition): this {
    return this.where(condition, ...values);
  }

  param(value: unknown): string {
    this.params.push(value);
    return this.d.param(this.params.length);
  }

  whereClause(): string {
    return this.conditions.length > 0 ? ` WHERE ${this.conditions.join(' AND ')}` : '';
  }
}

/**
 * A store filter as SQL conditions on a kind's table: the semantics of `entry-filter.ts` (the MemoryStore), with
 * what each dialect indexes.
 */
export class SqlFilter {
  private readonly json: JsonConditions;

  constructor(
    private readonly d: SqlDialect,
    private readonly engine: SqlEngine,
    private readonly tables: SqlTables,
  ) {
    this.json = engine === 'postgres' ? POSTGRES_JSON : SQLITE_JSON;
  }

  /** Adds the conditions of `f` for `kind` to `s`, and that the entry has not expired. */
  apply(s: SqlConditions, kind: EntryKind, f: StoreFilter, now = new Date()): SqlConditions {
    if (f.purgeable) {
      const { expiredAt, before } = f.purgeable;
      if (before) s.where(`("expires_at" <= ? OR ${q(TIME_COLUMN[kind])} < ?)`, this.d.date(expiredAt), this.d.date(before));
      else s.where('"expires_at" <= ?', this.d.date(expiredAt));
    } else if (!f.include_expired) s.where('("expires_at" IS NULL OR "expires_at" > ?)', this.d.date(now));
    const equal = (column: string, value: unknown) => {
      if (value !== undefined) s.where(`${q(column)} = ?`, value);
    };
    equal('request_uuid', f.request_uuid);
    equal('correlation_id', f.correlation_id);
    equal('module', f.module);
    equal(ACTOR_COLUMN[kind], f.actor_id);
    const time = q(TIME_COLUMN[kind]);
    if (f.from !== undefined) s.where(`${time} >= ?`, this.d.date(f.from));
    if (f.to !== undefined) s.where(`${time} <= ?`, this.d.date(f.to));
    switch (kind) {
      case 'requests':
        return this.requests(s, f);
      case 'actions':
        return this.actions(s, f);
      case 'changes':
        return this.changes(s, f);
      case 'activities':
        return s;
    }
  }

  private requests(s: SqlConditions, f: StoreFilter): SqlConditions {
    // A row without timestamp holds late events waiting for their document: not an entry yet.
    s.where('"timestamp" IS NOT NULL');
    if (f.model !== undefined || f.model_id !== undefined) {
      const record: Record<string, string | null> = {};
      if (f.model !== undefined) record.model = f.model;
      if (f.model_id !== undefined) record.model_id = f.model_id;
      s.add(this.json.listHas(this.json.field('"details"', 'model_logs'), record));
    }
    if (f.method !== undefined) s.where('"method" = ?', f.method);
    if (f.route !== undefined) s.where('"route" = ?', f.route);
    if (f.status !== undefined) s.where('"status_code" = ?', f.status);
    return s;
  }

  private actions(s: SqlConditions, f: StoreFilter): SqlConditions {
    if (!f.include_inactive) s.where('"is_active" = ?', this.d.bool(true));
    for (const key of ['action_type', 'action_category', 'target_type', 'target_id'] as const) {
      if (f[key] !== undefined) s.where(`${q(key)} = ?`, f[key]);
    }
    if (f.tag_type !== undefined || f.tag_ref !== undefined) {
      const tag: Record<string, string> = {};
      if (f.tag_type !== undefined) tag.type = f.tag_type;
      if (f.tag_ref !== undefined) tag.ref = f.tag_ref;
      s.add(this.json.listHas('"tags"', tag));
    }
    if (f.entity_ref !== undefined) s.add(this.json.listHas('"entity_path"', { ref: f.entity_ref }));
    for (const match of f.custom ?? []) {
      const holder = match.in === 'details' ? '"details"' : match.in === 'source' ? '"source"' : this.json.field('"actor"', 'extra');
      s.add(this.json.customField(holder, match.name, match.value));
    }
    if (f.q !== undefined) {
      const search = searchCondition(this.engine, this.tables.actionLogs, f.q);
      if (search) s.where(...search);
    }
    return s;
  }

  private changes(s: SqlConditions, f: StoreFilter): SqlConditions {
    if (f.model !== undefined) s.where('"model" = ?', f.model);
    if (f.model_id === null) s.where('"model_id" IS NULL');
    else if (f.model_id !== undefined) s.where('"model_id" = ?', f.model_id);
    if (f.action !== undefined) s.where('"action" = ?', f.action);
    if (f.changed_field !== undefined) {
      s.add(this.json.listHolds(this.json.field('"model_details"', 'changed_fields'), f.changed_field));
    }
    return s;
  }
}
