import { MongoClient } from 'mongodb';
import { MemoryStore, MongoStore, SqlStore, type Store } from 'actionlog';
import { actionLogEntities } from 'actionlog/typeorm';
import { freshDatabaseName, mongoUri } from './mongo-db.js';
import { openDatabase } from './sql.js';

/** Every store the package ships, each on a real database of the test run. */
export type StoreKind = 'memory' | 'mongodb' | 'sqlite' | 'postgres';
export const STORE_KINDS: StoreKind[] = ['memory', 'mongodb', 'sqlite', 'postgres'];

export interface OpenedStore {
  store: Store;
  /** Drops the database and closes what was opened for it. */
  close(): Promise<void>;
}

/** A store of this kind on an empty database of its own. */
export async function openStore(kind: StoreKind): Promise<OpenedStore> {
  if (kind === 'memory') return { store: new MemoryStore(), close: async () => {} };
  if (kind === 'mongodb') {
    const client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
    const db = client.db(freshDatabaseName());
    return {
      store: new MongoStore({ db }),
      close: async () => {
        await db.dropDatabase().catch(() => {});
        await client.close();
      },
    };
  }
  const database = await openDatabase(kind, { entities: actionLogEntities(kind) });
  return { store: new SqlStore({ dataSource: database.dataSource }), close: () => database.drop() };
}
