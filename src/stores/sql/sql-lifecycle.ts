import type { EntryKind, PurgeQuery } from '../store.js';
import type { SqlDialect } from './sql-dialects.js';
import { KIND_TABLE, SqlConditions, TIME_COLUMN } from './sql-filter.js';
import { quoteName as q, type SqlEngine, type SqlTables } from './sql-schema.js';
import type { SqlStep } from './sql-types.js';

/**
 * The statements of what happens to rows after they are written: purged in batches, deactivated. Each answers one
 * row `n`, how many rows it changed (PostgreSQL counts what a data-modifying `WITH` returned; SQLite's statement
 * returns the rows themselves, counted by the caller).
 */
export class SqlLifecycle {
  private readonly pg: boolean;

  constructor(
    private readonly d: SqlDialect,
    engine: SqlEngine,
    private readonly t: SqlTables,
  ) {
    this.pg = engine === 'postgres';
  }

  /** Deletes at most `limit` rows expired by `expiredAt` or older than `before`, by id (a batch of its own). */
  purge(query: PurgeQuery): SqlStep {
    const table = q(this.t[KIND_TABLE[query.kind]]);
    const s = new SqlConditions(this.d);
    const expired = `"expires_at" <= ${s.param(this.d.date(query.expiredAt))}`;
    const old = query.before ? ` OR ${q(TIME_COLUMN[query.kind])} < ${s.param(this.d.date(query.before))}` : '';
    // A placeholder of late events (no time of its own) is older than `before` when its request expired before it.
    const placeholder =
      query.before && query.kind === 'requests' ? ` OR ("timestamp" IS NULL AND "expires_at" < ${s.param(this.d.date(query.before))})` : '';
    const limit = s.param(query.limit);
    const batch = `SELECT "id" FROM ${table} WHERE ${expired}${old}${placeholder} LIMIT ${limit}`;
    return this.counted(`DELETE FROM ${table} WHERE "id" IN (${batch})`, s.params);
  }

  /** Deletes at most `limit` attachments expired by `expiredAt` or whose `timestamp` is before `before`. */
  purgeAttachments(query: Omit<PurgeQuery, 'kind'>): SqlStep {
    const table = q(this.t.attachments);
    const s = new SqlConditions(this.d);
    const expired = `"expires_at" <= ${s.param(this.d.date(query.expiredAt))}`;
    const old = query.before ? ` OR "timestamp" < ${s.param(this.d.date(query.before))}` : '';
    const batch = `SELECT "id" FROM ${table} WHERE ${expired}${old} LIMIT ${s.param(query.limit)}`;
    return this.counted(`DELETE FROM ${table} WHERE "id" IN (${batch})`, s.params);
  }

  /** Deletes the rows of these ids. */
  remove(kind: EntryKind, ids: number[]): SqlStep {
    const s = new SqlConditions(this.d);
    const list = ids.map((id) => s.param(id)).join(', ');
    return this.counted(`DELETE FROM ${q(this.t[KIND_TABLE[kind]])} WHERE "id" IN (${list})`, s.params);
  }

  /** Marks the action of this row id inactive. */
  deactivate(id: number): SqlStep {
    const s = new SqlConditions(this.d);
    const set = `"is_active" = ${s.param(this.d.bool(false))}`;
    return this.counted(`UPDATE ${q(this.t.actionLogs)} SET ${set} WHERE "id" = ${s.param(id)}`, s.params);
  }

  /** Rows in `n`, however many a statement changed. */
  private counted(statement: string, params: unknown[]): SqlStep {
    if (this.pg) return { sql: `WITH changed AS (${statement} RETURNING 1) SELECT COUNT(*) AS n FROM changed`, params };
    return { sql: `${statement} RETURNING 1 AS n`, params };
  }
}
