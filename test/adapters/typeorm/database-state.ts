import type { ModelLog } from 'actionlog';
import { sameValue } from 'actionlog/adapter-kit';
import type { DataSource, EntityMetadata, EntityTarget, ObjectLiteral } from 'typeorm';

/*
 * What the database holds, read with plain SQL (no entity hydration), in the shape model logs use: property paths
 * nest (`address.city`, a foreign key as `basket.id`), dates compare by their time. And the model logs of a
 * call, replayed over the state before it, must give the state after it.
 */

/** Rows of some tables, keyed `Class:id`, values in canonical form (dates as `{ $date: ms }`). */
export type DatabaseState = Map<string, unknown>;

type Column = EntityMetadata['columns'][number];

const DATE_TYPES = new Set(['datetime', 'timestamp', 'timestamp without time zone', 'timestamp with time zone', 'timestamptz']);

/** A value in a form that compares with `toEqual` across drivers and the recorded copies: dates by their time. */
export function canonical(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, canonical(v)]));
  return value;
}

function plainValue(ds: DataSource, column: Column, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  const type = typeof column.type === 'string' ? column.type : column.type === Number ? 'integer' : 'varchar';
  let value: unknown = raw;
  if (DATE_TYPES.has(type) || column.isCreateDate || column.isUpdateDate || column.isDeleteDate) {
    // SQLite keeps UTC text ('2025-01-01 10:00:00.000'); pg parses timestamps itself.
    value = typeof raw === 'string' ? new Date(`${raw.replace(' ', 'T')}Z`) : raw;
  } else if (['json', 'jsonb', 'simple-json'].includes(type)) {
    value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  } else if (type === 'boolean') {
    value = Boolean(raw);
  } else if (['integer', 'int', 'smallint'].includes(type) || column.isVersion) {
    value = Number(raw);
  }
  return column.transformer && !Array.isArray(column.transformer) ? column.transformer.from(value) : value;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = target;
  for (const part of path.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** The selected expression of a column: SQLite keeps jsonb as a binary blob, `json()` gives its text. */
function selected(ds: DataSource, column: Column): string {
  const name = ds.driver.escape(column.databaseName);
  return ds.options.type === 'better-sqlite3' && column.type === 'jsonb' ? `json(${name}) AS ${name}` : name;
}

function storedColumns(metadata: EntityMetadata): Column[] {
  const seen = new Set<string>();
  return metadata.columns.filter((c) => !c.isVirtualProperty && !seen.has(c.databaseName) && seen.add(c.databaseName));
}

/** The rows of the given entities' tables, read with plain SQL. */
export async function readState(ds: DataSource, targets: Array<EntityTarget<ObjectLiteral>>): Promise<DatabaseState> {
  const state: DatabaseState = new Map();
  for (const target of targets) {
    const metadata = ds.getMetadata(target);
    const columns = storedColumns(metadata);
    const rows: Array<Record<string, unknown>> = await ds.query(
      `SELECT ${columns.map((c) => selected(ds, c)).join(', ')} FROM ${ds.driver.escape(metadata.tableName)}`,
    );
    for (const raw of rows) {
      const row: Record<string, unknown> = {};
      for (const column of columns) setPath(row, column.propertyPath.split('.'), plainValue(ds, column, raw[column.databaseName]));
      const id = metadata.primaryColumns.map((c) => String(raw[c.databaseName])).join(':');
      state.set(`${metadata.name}:${id}`, canonical(row));
    }
  }
  return state;
}

/**
 * Applies model logs, in order, to a copy of `before`: each log's old object must be the row as the logs so far
 * leave it (null for `Created`), and its new object becomes the row (gone for `Deleted`). Returns the rows
 * reached and every disagreement met on the way.
 */
export function replay(before: DatabaseState, logs: ModelLog[]): { state: DatabaseState; problems: string[] } {
  const state: DatabaseState = new Map(before);
  const problems: string[] = [];
  for (const [i, log] of logs.entries()) {
    const key = `${log.model_class_name}:${String(log.model_id)}`;
    const { old_object, new_object } = log.model_details;
    if (log.truncated) problems.push(`log ${i} (${key}) is a truncated summary`);
    const current = state.get(key);
    if (log.action === 'Created' && current !== undefined) problems.push(`log ${String(i)} creates ${key}, which exists`);
    const expectedOld = log.action === 'Created' ? undefined : current;
    const old = old_object === null ? undefined : canonical(old_object);
    if (!sameValue(old, expectedOld))
      problems.push(`log ${i} ${log.action} ${key}: old_object ${JSON.stringify(old)} but the row was ${JSON.stringify(expectedOld)}`);
    if (log.action === 'Deleted') state.delete(key);
    else state.set(key, canonical(new_object));
  }
  return { state, problems };
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sorted(v)]),
    );
  return value;
}

/** Both states as sorted plain objects, for `toEqual` with a readable diff. */
export function asObject(state: DatabaseState): Record<string, unknown> {
  return Object.fromEntries([...state.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sorted(v)]));
}
