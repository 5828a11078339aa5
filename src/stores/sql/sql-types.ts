/**
 * The few parts of a TypeORM DataSource (and of the better-sqlite3 connection under it) the SQL store uses,
 * described structurally so that the core never imports TypeORM (an optional peer).
 */
/** A row as the driver returns it. */
export type SqlRow = Record<string, unknown>;

/** One SQL statement; the program that yields it gets its result rows back. */
export interface SqlStep {
  sql: string;
  params: unknown[];
}

/**
 * Statements in sequence, each seeing the rows of the one before, independent of how they run: synchronously on
 * better-sqlite3 (no other query can slip in between), or awaited on a PostgreSQL connection or a query runner.
 */
export type SqlProgram = Generator<SqlStep, void, SqlRow[]>;

export interface SqlManagerLike {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

export interface SqlDataSourceLike {
  readonly options: { readonly type: string };
  readonly isInitialized: boolean;
  /** TypeORM's driver; on better-sqlite3 its `databaseConnection` is the one connection. */
  readonly driver: object;
  transaction<T>(run: (manager: SqlManagerLike) => Promise<T>): Promise<T>;
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}
