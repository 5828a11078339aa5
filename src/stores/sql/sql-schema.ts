import { ATTACHMENTS, type ColumnSpec, type IndexSpec, sqlIndexName, TABLES, type TableKey, type TableSpec } from '../tables.js';
import { dropSearchStatements, pgName, searchIndex, searchStatements, searchTable } from './sql-search.js';
import type { SqlProgram, SqlRow, SqlStep } from './sql-types.js';

/** The table names in use, by collection, and of the attachments' bytes. */
export type SqlTables = Record<TableKey | 'attachments', string>;

export type SqlEngine = 'postgres' | 'sqlite';

/** Runs one statement (through the store's DataSource or a migration's query runner) and returns its rows. */
export type SqlQuery = (sql: string, params?: unknown[]) => Promise<unknown>;

/** Quotes an identifier for both PostgreSQL and SQLite. */
export const quoteName = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Quotes a string literal for both PostgreSQL and SQLite. */
export const quoteText = (text: string) => `'${text.replace(/'/g, "''")}'`;

const KEYS = Object.keys(TABLES) as TableKey[];

/** The table names for a prefix, with explicit names taking precedence. */
export function sqlTableNames(prefix: string, given: Partial<SqlTables> = {}): SqlTables {
  const names = Object.fromEntries(KEYS.map((key) => [key, given[key] ?? `${prefix}${TABLES[key].name}`])) as Record<TableKey, string>;
  return { ...names, attachments: given.attachments ?? `${prefix}${ATTACHMENTS.name}` };
}

/**
 * PostgreSQL: the transaction writing a row, as a bigint (`txid_current()` is `pg_current_xact_id()` as bigint; a
 * cast in a default would not survive TypeORM's comparison of defaults, so the entities could not describe it).
 */
export const CURRENT_TXID = 'txid_current()';

/**
 * PostgreSQL keeps the first 63 bytes of a name: the tables and indexes whose names would be cut to one already
 * taken (then `CREATE ... IF NOT EXISTS` skips one, the unique index on `uid` among them), as `a / b` pairs.
 */
export function clashingNames(tables: SqlTables): string[] {
  const names = [
    ...KEYS.map((key) => tables[key]),
    tables.attachments,
    ...KEYS.flatMap((key) => indexesOn('postgres', TABLES[key]).map((index) => sqlIndexName(tables[key], index))),
    ...indexesOn('postgres', ATTACHMENTS).map((index) => sqlIndexName(tables.attachments, index)),
    searchIndex(tables.actionLogs),
  ];
  const seen = new Map<string, string>();
  const clashes: string[] = [];
  for (const name of names) {
    const kept = seen.get(pgName(name));
    if (kept === undefined) seen.set(pgName(name), name);
    else if (kept !== name) clashes.push(`${kept} / ${name}`);
  }
  return clashes;
}

/** The columns a table has on an engine: all but `txid` on SQLite. */
export function columnsOn(engine: SqlEngine, table: TableSpec): Array<[string, ColumnSpec]> {
  return Object.entries(table.columns).filter(([, column]) => column.kind !== 'txid' || engine === 'postgres');
}

/** The SQL indexes of a table on an engine: GIN indexes and those over PostgreSQL-only columns are not on SQLite. */
export function indexesOn(engine: SqlEngine, table: TableSpec): IndexSpec[] {
  const columns = new Set(columnsOn(engine, table).map(([name]) => name));
  return table.indexes.filter(
    (index) =>
      index.only !== 'mongo' && (engine === 'postgres' || index.using !== 'gin') && index.fields.every(([field]) => columns.has(field)),
  );
}

/** A column as `CREATE TABLE` declares it; the same types TypeORM gives the entities of `actionLogEntities()`. */
function columnDefinition(name: string, column: ColumnSpec, engine: SqlEngine): string {
  const pg = engine === 'postgres';
  const nulls = (column.nullable ?? true) ? '' : ' NOT NULL';
  switch (column.kind) {
    case 'id':
      return pg ? `${quoteName(name)} SERIAL PRIMARY KEY` : `${quoteName(name)} integer PRIMARY KEY AUTOINCREMENT NOT NULL`;
    case 'text':
      return `${quoteName(name)} ${pg ? 'character varying' : 'varchar'}(${String(column.length)})${nulls}`;
    case 'long-text':
      return `${quoteName(name)} text${nulls}`;
    case 'json':
      return `${quoteName(name)} ${pg ? 'jsonb' : 'json'}${nulls}`;
    case 'date':
      return `${quoteName(name)} ${pg ? 'TIMESTAMP WITH TIME ZONE' : 'datetime'}${nulls}`;
    case 'int':
      return `${quoteName(name)} integer${nulls}`;
    case 'txid':
      return `${quoteName(name)} bigint NOT NULL DEFAULT ${CURRENT_TXID}`;
    case 'blob':
      return `${quoteName(name)} ${pg ? 'bytea' : 'blob'}${nulls}`;
    case 'bool': {
      const fallback = column.default ?? false;
      return `${quoteName(name)} boolean NOT NULL DEFAULT ${pg ? String(fallback) : `(${fallback ? 1 : 0})`}`;
    }
  }
}

function indexStatement(table: string, index: IndexSpec): string {
  const name = quoteName(sqlIndexName(table, index));
  const fields = index.fields.map(([field]) => quoteName(field)).join(', ');
  if (index.using === 'gin') return `CREATE INDEX IF NOT EXISTS ${name} ON ${quoteName(table)} USING GIN (${fields} jsonb_path_ops)`;
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${name} ON ${quoteName(table)} (${fields})`;
}

function tableStatement(engine: SqlEngine, name: string, table: TableSpec): string {
  const columns = columnsOn(engine, table).map(([column, spec]) => columnDefinition(column, spec, engine));
  return `CREATE TABLE IF NOT EXISTS ${quoteName(name)} (${columns.join(', ')})`;
}

function tableStatements(engine: SqlEngine, tables: SqlTables): string[] {
  return [...KEYS.map((key) => tableStatement(engine, tables[key], TABLES[key])), tableStatement(engine, tables.attachments, ATTACHMENTS)];
}

/** One table with its indexes, `IF NOT EXISTS`: what a migration adding a table runs (`action_latest`). */
export function oneTableStatements(engine: SqlEngine, tables: SqlTables, key: TableKey): string[] {
  return [
    tableStatement(engine, tables[key], TABLES[key]),
    ...indexesOn(engine, TABLES[key]).map((index) => indexStatement(tables[key], index)),
  ];
}

function indexStatements(engine: SqlEngine, tables: SqlTables, withSearchIndex = true): string[] {
  const statements = KEYS.flatMap((key) => indexesOn(engine, TABLES[key]).map((index) => indexStatement(tables[key], index)));
  statements.push(...indexesOn(engine, ATTACHMENTS).map((index) => indexStatement(tables.attachments, index)));
  if (engine === 'postgres') {
    // Finding requests by the records they changed: a jsonb containment index over their model logs.
    const requests = tables.requests;
    statements.push(
      `CREATE INDEX IF NOT EXISTS ${quoteName(`${requests}_model_logs`)} ON ${quoteName(requests)} USING GIN (("details" -> 'model_logs') jsonb_path_ops)`,
    );
  }
  return [...statements, ...searchStatements(engine, tables.actionLogs, { index: withSearchIndex })];
}

/** The statements that create the store's tables and indexes, all `IF NOT EXISTS`, on an empty database. */
export function schemaStatements(engine: SqlEngine, tables: SqlTables): string[] {
  return [...tableStatements(engine, tables), ...indexStatements(engine, tables)];
}

/** Indexes of the first version that (time, id) indexes replace in SQL: field lists, by table. */
const SUPERSEDED: Record<TableKey, string[][]> = {
  requests: [['timestamp']],
  actionLogs: [['target_type', 'target_id'], ['emitted_at']],
  modelLogs: [['model', 'model_id', 'timestamp'], ['timestamp']],
  activities: [],
  latestActions: [],
  checkpoints: [],
};

/** Columns added since the first version, and how to fill them in rows written before (where the row tells). */
const ADDED: Record<TableKey, Record<string, ((engine: SqlEngine) => string) | null>> = {
  requests: {
    method: (e) => (e === 'postgres' ? `"details" #>> '{request,method}'` : `json_extract("details", '$.request.method')`),
    route: (e) => (e === 'postgres' ? `"details" #>> '{request,route}'` : `json_extract("details", '$.request.route')`),
    status_code: (e) =>
      e === 'postgres'
        ? `CAST("details" #>> '{response,status_code}' AS integer)`
        : `CAST(json_extract("details", '$.response.status_code') AS integer)`,
    txid: null,
  },
  actionLogs: { correlation_id: null, txid: null, attachments: null, integrity: null },
  modelLogs: { user: null, user_id: null, correlation_id: null, txid: null, integrity: null },
  activities: { txid: null, integrity: null },
  latestActions: {},
  checkpoints: {},
};

/** A statement without parameters, as a program step. */
const step = (sql: string): SqlStep => ({ sql, params: [] });

/** PostgreSQL: the indexes of the schemas in the search path, by name. */
function* indexNames(): Generator<SqlStep, Set<string>, SqlRow[]> {
  const rows = yield { sql: 'SELECT indexname AS name FROM pg_indexes WHERE schemaname = ANY(current_schemas(false))', params: [] };
  return new Set(rows.map((r) => String(r.name)));
}

/** The index one of this module's `CREATE INDEX IF NOT EXISTS` statements makes (names are always quoted). */
function createdIndex(sql: string): string | undefined {
  const quoted = /^CREATE (?:UNIQUE )?INDEX IF NOT EXISTS "((?:[^"]|"")+)"/.exec(sql)?.[1];
  return quoted?.replace(/""/g, '"');
}

/** The columns a table has (none when it does not exist). */
export function* columnNames(engine: SqlEngine, table: string): Generator<SqlStep, Set<string>, SqlRow[]> {
  const rows = yield {
    sql:
      engine === 'postgres'
        ? 'SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1 AND table_schema = ANY(current_schemas(false))'
        : 'SELECT name FROM pragma_table_info(?)',
    params: [table],
  };
  return new Set(rows.map((r) => String(r.name)));
}

/**
 * Brings the store's tables to this version, idempotently: creates what is missing, adds the columns of later
 * versions to tables an earlier one made (filling those the stored document tells), replaces superseded indexes,
 * and creates the indexes and text search. What `SqlStore` runs at start (`createTables`) and the migrations run.
 * `searchIndex: false` leaves PostgreSQL's text index to a build of its own (see `concurrentSearchIndex`).
 */
export function* migrateSchema(engine: SqlEngine, tables: SqlTables, { searchIndex: withSearchIndex = true } = {}): SqlProgram {
  const pg = engine === 'postgres';
  for (const sql of tableStatements(engine, tables)) yield step(sql);
  for (const key of KEYS) {
    const table = quoteName(tables[key]);
    const present = yield* columnNames(engine, tables[key]);
    const fills: string[] = [];
    for (const [name, column] of columnsOn(engine, TABLES[key])) {
      if (present.has(name)) continue;
      yield step(`ALTER TABLE ${table} ADD COLUMN ${pg ? 'IF NOT EXISTS ' : ''}${columnDefinition(name, column, engine)}`);
      const fill = ADDED[key][name];
      if (fill) fills.push(`${quoteName(name)} = ${fill(engine)}`);
    }
    if (fills.length > 0 && present.size > 0) yield step(`UPDATE ${table} SET ${fills.join(', ')}`);
    for (const fields of SUPERSEDED[key]) {
      yield step(`DROP INDEX IF EXISTS ${quoteName(sqlIndexName(tables[key], { fields: fields.map((f) => [f, 1]) }))}`);
    }
  }
  const search = searchTable(tables.actionLogs);
  const searchExisted = pg || (yield* columnNames(engine, search)).size > 0;
  // PostgreSQL takes a table's SHARE lock for CREATE INDEX IF NOT EXISTS even when the index is there: every start
  // would wait for the writes under way and hold up those after it. Only the missing ones are created.
  const present = pg ? yield* indexNames() : new Set<string>();
  for (const sql of indexStatements(engine, tables, withSearchIndex)) {
    const created = createdIndex(sql);
    if (created === undefined || !present.has(pgName(created))) yield step(sql);
  }
  if (!searchExisted) {
    // SQLite: a new text index learns the actions already stored (the triggers index those written from now on).
    yield step(
      `INSERT INTO ${quoteName(search)} (rowid, note, target_name, actor_name) SELECT "id", "note", json_extract("target", '$.name'), json_extract("actor", '$.name') FROM ${quoteName(tables.actionLogs)}`,
    );
  }
}

/** Undoes `migrateSchema` on tables it upgraded: drops what this version added, restores the first version's indexes. */
export function* revertSchema(engine: SqlEngine, tables: SqlTables): SqlProgram {
  for (const sql of dropSearchStatements(engine, tables.actionLogs)) yield step(sql);
  yield step(`DROP TABLE IF EXISTS ${quoteName(tables.attachments)}`);
  for (const key of KEYS) {
    const table = quoteName(tables[key]);
    const added = new Set(Object.keys(ADDED[key]));
    for (const index of indexesOn(engine, TABLES[key])) {
      const isNew = index.only === 'sql' && (index.using === 'gin' || index.fields.some(([f]) => f === 'id' || added.has(f)));
      if (isNew) yield step(`DROP INDEX IF EXISTS ${quoteName(sqlIndexName(tables[key], index))}`);
    }
    const present = yield* columnNames(engine, tables[key]);
    for (const name of added) {
      if (present.has(name)) yield step(`ALTER TABLE ${table} DROP COLUMN ${quoteName(name)}`);
    }
    for (const fields of SUPERSEDED[key]) yield step(indexStatement(tables[key], { fields: fields.map((f) => [f, 1]) }));
  }
}

/** Runs a program statement by statement through `query` (a migration's query runner, a transaction's manager). */
export async function runProgram<T>(query: SqlQuery, program: Generator<SqlStep, T, SqlRow[]>): Promise<T> {
  for (let next = program.next(); ;) {
    if (next.done) return next.value;
    const rows = await query(next.value.sql, next.value.params);
    next = program.next(Array.isArray(rows) ? (rows as SqlRow[]) : []);
  }
}

/**
 * The columns each table must have on an engine, for checking tables made by an earlier version or by hand; the
 * latest actions' table only when `latestActions` uses it (tables made before it existed work without it).
 */
export function requiredColumns(engine: SqlEngine, tables: SqlTables, latestActions = false): Array<{ table: string; columns: string[] }> {
  const attachments = { table: tables.attachments, columns: columnsOn(engine, ATTACHMENTS).map(([name]) => name) };
  const kept = KEYS.filter((key) => latestActions || key !== 'latestActions');
  return [...kept.map((key) => ({ table: tables[key], columns: columnsOn(engine, TABLES[key]).map(([name]) => name) })), attachments];
}
