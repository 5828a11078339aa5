import { existsSync } from 'node:fs';
import { SqlStore } from '../../stores/sql/sql-store.js';
import type { OpenedStore } from './connection.js';
import { usageError } from './exit-codes.js';
import { importPeer } from './peer.js';
import { unreachable } from './unreachable.js';

/**
 * A SqlStore on a TypeORM DataSource of its own. Tables are the application's (`createTables: false`): the store
 * checks they are there and names what is missing, rather than making an empty trail in the wrong database.
 */
export async function openSql(
  target: { postgres: string } | { sqlite: string },
  prefix: string | undefined,
  timeoutMs: number,
): Promise<OpenedStore> {
  const postgres = 'postgres' in target;
  const flag = postgres ? '--postgres' : '--sqlite';
  const { DataSource } = await importPeer(() => import('typeorm'), flag, ['typeorm', postgres ? 'pg' : 'better-sqlite3']);
  if (!postgres && !existsSync(target.sqlite)) throw usageError('--sqlite', `no such file: ${target.sqlite}`);
  const connect = async () => {
    // Made here: TypeORM reads the URL when the DataSource is made, and a malformed one fails as a connection does.
    const made = postgres
      ? new DataSource({ type: 'postgres', url: target.postgres, poolSize: 2, connectTimeoutMS: timeoutMs, logging: false })
      : new DataSource({ type: 'better-sqlite3', database: target.sqlite, fileMustExist: true, timeout: timeoutMs, logging: false });
    return made.initialize();
  };
  const dataSource = await connect().catch((error: unknown) => {
    throw unreachable(postgres ? 'PostgreSQL' : 'SQLite', postgres ? target.postgres : target.sqlite, error);
  });
  const store = new SqlStore({ dataSource, ...(prefix === undefined ? {} : { prefix }), createTables: false });
  return {
    store,
    close: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}
