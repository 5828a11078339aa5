import type { EntryKind, EntryPosition, FacetField, FacetQuery, StoreFilter, StoreQuery } from '../store.js';
import { FOREIGN_POSITION, positionError } from '../store.js';
import type { SqlDialect } from './sql-dialects.js';
import { ACTOR_COLUMN, KIND_TABLE, SqlConditions, SqlFilter, TIME_COLUMN } from './sql-filter.js';
import { quoteName as q, type SqlEngine, type SqlTables } from './sql-schema.js';
import type { SqlStep } from './sql-types.js';

/**
 * PostgreSQL: only rows of transactions older than every transaction still running are read in stored order. Ids
 * and txids are taken before commit, so a row with a greater txid may already be visible while one with a smaller
 * one is still to come; below this mark, nothing is still to come.
 */
const VISIBLE_MARK = 'pg_snapshot_xmin(pg_current_snapshot())::text::bigint';

/** The statements of the store's reads: entries by a filter, in time or stored order, counts and facets. */
export class SqlReads {
  private readonly filter: SqlFilter;
  private readonly pg: boolean;

  constructor(
    private readonly d: SqlDialect,
    engine: SqlEngine,
    private readonly t: SqlTables,
  ) {
    this.filter = new SqlFilter(d, engine, t);
    this.pg = engine === 'postgres';
  }

  /** Checkpoints past a row id, in id order. */
  checkpoints(after: number, limit: number): SqlStep {
    return {
      sql: `SELECT * FROM ${q(this.t.checkpoints)} WHERE "id" > ${this.d.param(1)} ORDER BY "id" LIMIT ${this.d.param(2)}`,
      params: [after, limit],
    };
  }

  query(query: StoreQuery): SqlStep {
    const s = this.filter.apply(new SqlConditions(this.d), query.kind, query.filter);
    const time = q(TIME_COLUMN[query.kind]);
    let order: string;
    const dir = query.order === 'asc' ? 'ASC' : 'DESC';
    const past = dir === 'ASC' ? '>' : '<';
    if (query.by === 'stored') {
      const after = query.after && this.storedAfter(query.after.seq);
      if (this.pg) {
        // Newest first too: the newest row below the mark, never one a running transaction can still precede.
        s.where(`"txid" < ${VISIBLE_MARK}`);
        if (after) s.where(`("txid", "id") ${past} (?, ?)`, after[0], after[1]);
        order = `"txid" ${dir}, "id" ${dir}`;
      } else {
        if (after) s.where(`"id" ${past} ?`, after[1]);
        order = `"id" ${dir}`;
      }
    } else {
      if (query.after) {
        s.where(`(${time}, "id") ${past} (?, ?)`, this.d.date(query.after.time), rowId(query.after.id));
      }
      order = `${time} ${dir}, "id" ${dir}`;
    }
    const limit = s.param(query.limit);
    return { sql: `SELECT * FROM ${this.table(query.kind)}${s.whereClause()} ORDER BY ${order} LIMIT ${limit}`, params: s.params };
  }

  /** The action a latest-action row points at (its `uid`), unless expired or inactive. */
  latest(actorId: string, actionType: string): SqlStep {
    const s = this.filter.apply(new SqlConditions(this.d), 'actions', {});
    const pointed = `SELECT "action_uid" FROM ${q(this.t.latestActions)} WHERE "actor_id" = ? AND "action_type" = ?`;
    s.where(`"uid" = (${pointed})`, actorId, actionType);
    return { sql: `SELECT * FROM ${this.table('actions')}${s.whereClause()}`, params: s.params };
  }

  /** Where a row sits: its time and id (the order of `query`), and its txid and id (stored order). */
  position(kind: EntryKind, row: Record<string, unknown>): EntryPosition {
    const id = String(row.id);
    return {
      time: this.d.readDate(row[TIME_COLUMN[kind]]) ?? new Date(0),
      id,
      seq: this.pg ? `${String(row.txid)}:${id}` : id,
    };
  }

  count(kind: EntryKind, filter: StoreFilter): SqlStep {
    const s = this.filter.apply(new SqlConditions(this.d), kind, filter);
    return { sql: `SELECT COUNT(*) AS n FROM ${this.table(kind)}${s.whereClause()}`, params: s.params };
  }

  /** Distinct values with their counts, in (count desc, value asc) order, past `after`. */
  facets(query: FacetQuery): SqlStep {
    const s = this.filter.apply(new SqlConditions(this.d), query.kind, query.filter);
    const matching = `SELECT * FROM ${this.table(query.kind)}${s.whereClause()}`;
    // Values compare by code point on both engines (PostgreSQL's default collation would not).
    const value = this.pg ? 'value COLLATE "C"' : 'value';
    let grouped: string;
    if (query.field === 'tag_type') {
      // An action counts once per value, however many of its tags have it.
      grouped = this.pg
        ? `SELECT e ->> 'type' AS value, COUNT(DISTINCT m."id") AS n FROM (${matching}) m CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(m."tags") = 'array' THEN m."tags" ELSE '[]'::jsonb END) e GROUP BY 1`
        : `SELECT json_extract(e.value, '$.type') AS value, COUNT(DISTINCT m."id") AS n FROM (${matching}) m, json_each(m."tags") e GROUP BY 1`;
    } else {
      const column = q(facetColumn(query.kind, query.field));
      grouped = `SELECT ${column} AS value, COUNT(*) AS n FROM (${matching}) m GROUP BY ${column}`;
    }
    const conditions = ['value IS NOT NULL'];
    if (query.after) {
      const count = s.param(query.after.count);
      conditions.push(`(n < ${count} OR (n = ${s.param(query.after.count)} AND ${value} > ${s.param(query.after.value)}))`);
    }
    const limit = s.param(query.limit);
    return {
      sql: `SELECT value, n FROM (${grouped}) f WHERE ${conditions.join(' AND ')} ORDER BY n DESC, ${value} ASC LIMIT ${limit}`,
      params: s.params,
    };
  }

  private table(kind: EntryKind): string {
    return q(this.t[KIND_TABLE[kind]]);
  }

  /** The (txid, id) of a stored-order position this store made. */
  private storedAfter(seq: string): [string, number] {
    const match = STORED_SEQ[this.pg ? 'postgres' : 'sqlite'].exec(seq);
    if (!match) throw positionError(FOREIGN_POSITION);
    const [, txid = '', id = ''] = match;
    return [txid, Number(id)];
  }
}

function facetColumn(kind: EntryKind, field: Exclude<FacetField, 'tag_type'>): string {
  return field === 'actor_id' ? ACTOR_COLUMN[kind] : field;
}

/** A row id as a position holds it, which `Number` reads back exactly. */
const ROW_ID = /^\d{1,15}$/;

/** A stored-order position's seq: `txid:id` on PostgreSQL (see `position`), the row id on SQLite. */
const STORED_SEQ: Readonly<Record<SqlEngine, RegExp>> = { postgres: /^(\d{1,19}):(\d{1,15})$/, sqlite: /^()(\d{1,15})$/ };

/** What is wrong with a position given back to a store on `engine`, undefined when it could have made it. */
export function positionProblem(engine: SqlEngine, position: EntryPosition): string | undefined {
  return ROW_ID.test(position.id) && STORED_SEQ[engine].test(position.seq) ? undefined : FOREIGN_POSITION;
}

/** A row id from a position this store made. */
function rowId(id: string): number {
  if (!ROW_ID.test(id)) throw positionError(FOREIGN_POSITION);
  return Number(id);
}
