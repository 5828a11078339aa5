import { type ColumnSpec, sqlIndexName, TABLES, type TableKey } from '../tables.js';

/** The table names in use, by collection. */
export type SqlTables = Record<TableKey, string>;

/** Quotes an identifier for both PostgreSQL and SQLite. */
export const quoteName = (name: string) => `"${name.replace(/"/g, '""')}"`;

const KEYS = Object.keys(TABLES) as TableKey[];

/** The table names for a prefix, with explicit names taking precedence. */
export function sqlTableNames(prefix: string, given: Partial<SqlTables> = {}): SqlTables {
  return Object.fromEntries(KEYS.map((key) => [key, given[key] ?? `${prefix}${TABLES[key].name}`])) as SqlTables;
}

type Engine = 'postgres' | 'sqlite';

/** A column as `CREATE TABLE` declares it; the same types TypeORM gives the entities of `actionLogEntities()`. */
function columnDefinition(name: string, column: ColumnSpec, engine: Engine): string {
  const pg = engine === 'postgres';
  const nullable = column.nullable ?? true;
  const nulls = nullable ? '' : ' NOT NULL';
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
    case 'bool': {
      const fallback = column.default ?? false;
      return `${quoteName(name)} boolean NOT NULL DEFAULT ${pg ? String(fallback) : `(${fallback ? 1 : 0})`}`;
    }
  }
}

/**
 * The statements that create the store's tables and indexes where they are missing (all `IF NOT EXISTS`, so
 * running them again changes nothing). Used by `SqlStore` at start and by the TypeORM migrations.
 */
export function schemaStatements(engine: Engine, tables: SqlTables): string[] {
  const statements: string[] = [];
  for (const key of KEYS) {
    const spec = TABLES[key];
    const table = tables[key];
    const columns = Object.entries(spec.columns).map(([name, column]) => columnDefinition(name, column, engine));
    statements.push(`CREATE TABLE IF NOT EXISTS ${quoteName(table)} (${columns.join(', ')})`);
    for (const index of spec.indexes) {
      if (index.only === 'mongo') continue;
      const fields = index.fields.map(([field]) => quoteName(field)).join(', ');
      statements.push(
        `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${quoteName(sqlIndexName(table, index))} ON ${quoteName(table)} (${fields})`,
      );
    }
  }
  if (engine === 'postgres') {
    // Finding requests by the records they changed: a jsonb containment index over their model logs.
    const requests = tables.requests;
    statements.push(
      `CREATE INDEX IF NOT EXISTS ${quoteName(`${requests}_model_logs`)} ON ${quoteName(requests)} USING GIN (("details" -> 'model_logs') jsonb_path_ops)`,
    );
  }
  return statements;
}

/** The columns each table must have, for checking tables made by an earlier version or by hand. */
export function requiredColumns(tables: SqlTables): Array<{ table: string; columns: string[] }> {
  return KEYS.map((key) => ({ table: tables[key], columns: Object.keys(TABLES[key].columns) }));
}
