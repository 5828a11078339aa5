import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource, type DataSourceOptions, type EntitySubscriberInterface } from 'typeorm';
import { inject } from 'vitest';

export type SqlKind = 'sqlite' | 'postgres';
export const SQL_KINDS: SqlKind[] = ['sqlite', 'postgres'];

export interface SqlDatabase {
  dataSource: DataSource;
  drop(): Promise<void>;
}

/** A new, empty database of this kind: SQLite in memory, or a fresh database on the run's PostgreSQL. */
export async function openDatabase(
  kind: SqlKind,
  options: {
    entities: DataSourceOptions['entities'];
    subscribers?: EntitySubscriberInterface[];
    synchronize?: boolean;
    migrations?: DataSourceOptions['migrations'];
  },
): Promise<SqlDatabase> {
  let base: DataSourceOptions;
  let cleanup = async () => {};
  if (kind === 'sqlite') {
    base = { type: 'better-sqlite3', database: ':memory:' };
  } else {
    const created = await createPostgresDatabase();
    base = { type: 'postgres', url: created.url, poolSize: 10 };
    cleanup = created.drop;
  }
  const dataSource = new DataSource({
    ...base,
    entities: options.entities,
    migrations: options.migrations ?? [],
    synchronize: options.synchronize ?? true,
    logging: false,
  });
  await dataSource.initialize();
  dataSource.subscribers.push(...(options.subscribers ?? []));
  return {
    dataSource,
    drop: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await cleanup();
    },
  };
}

/** A new, empty database on the run's PostgreSQL: its URL, and how to drop it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const url = inject('pgUrl');
  const name = `actionlog_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
