/**
 * The few parts of a TypeORM DataSource (and of the better-sqlite3 connection under it) the SQL store uses,
 * described structurally so that the core never imports TypeORM (an optional peer).
 */
/** A row as the driver returns it. */
export type SqlRow = Record<string, unknown>;

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
