/** The better-sqlite3 connection TypeORM's driver holds, as far as actionlog uses it. */
export interface BetterSqliteLike {
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
  /** `.immediate()` begins with the write lock, waiting for it as long as the connection's busy timeout says. */
  transaction(fn: () => void): { (): void; immediate(): void };
}

/** better-sqlite3's one connection of a TypeORM data source, or undefined for any other driver. */
export function betterSqliteOf(dataSource: { options: { type: string }; driver: unknown }): BetterSqliteLike | undefined {
  if (dataSource.options.type !== 'better-sqlite3') return undefined;
  return (dataSource.driver as { databaseConnection?: BetterSqliteLike }).databaseConnection;
}

export interface SqliteStatement {
  reader: boolean;
  all(...params: unknown[]): Array<Record<string, unknown>>;
  run(...params: unknown[]): unknown;
}

// Shared by every copy of the package in the process (the core and the adapter kit are separate bundles).
const CACHE_KEY = Symbol.for('actionlog.sqlite-statements');
const cached: WeakMap<BetterSqliteLike, Map<string, SqliteStatement>> = ((
  globalThis as { [CACHE_KEY]?: WeakMap<BetterSqliteLike, Map<string, SqliteStatement>> }
)[CACHE_KEY] ??= new WeakMap());

/** A prepared statement of `db`, prepared once per SQL text: preparing costs more than most reads it serves. */
export function preparedStatement(db: BetterSqliteLike, sql: string): SqliteStatement {
  let statements = cached.get(db);
  if (!statements) {
    statements = new Map();
    cached.set(db, statements);
  }
  let statement = statements.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    if (statements.size >= 200) statements.clear();
    statements.set(sql, statement);
  }
  return statement;
}
