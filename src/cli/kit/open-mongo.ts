import { ActionLogConfigError } from '../../shared/errors.js';
import { MongoStore } from '../../stores/mongo/mongo-store.js';
import { collectionNames } from '../../stores/mongo/mongo-options.js';
import type { MongoClientLike } from '../../stores/mongo/mongo-types.js';
import type { OpenedStore } from './connection.js';
import { usageError } from './exit-codes.js';
import { importPeer } from './peer.js';
import { unreachable, withoutPassword } from './unreachable.js';

/** The database a MongoDB URI names in its path, if any (`mongodb://host/app?...` → `app`). */
const databaseIn = (uri: string): string | undefined => /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri)?.[1];

/**
 * A MongoStore on a client of its own. Indexes are the application's to create (`createIndexes: false`), and a
 * database without any of the trail's collections is refused: a mistyped name would read as an empty trail.
 */
export async function openMongo(uri: string, dbFlag: string | undefined, prefix: string, timeoutMs: number): Promise<OpenedStore> {
  const { MongoClient } = await importPeer(() => import('mongodb'), '--mongodb', ['mongodb']);
  const dbName = dbFlag ?? databaseIn(uri);
  if (!dbName) throw usageError('--db', `give the database: ${withoutPassword(uri)} names none`);
  let client: InstanceType<typeof MongoClient>;
  try {
    client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  } catch (error) {
    throw usageError('--mongodb', `is not a MongoDB connection string (${(error as Error).message})`);
  }
  try {
    await client.connect();
    const names = collectionNames(prefix, {});
    const existing = await client.db(dbName).listCollections({}, { nameOnly: true }).toArray();
    const trail = [names.requests, names.actionLogs, names.modelLogs, names.activities];
    if (!existing.some((c) => trail.includes(c.name))) {
      const message = `"${dbName}" holds none of the collections ${trail.join(', ')}: check --db and --prefix`;
      throw new ActionLogConfigError([{ path: '--db', message }], 'arguments');
    }
  } catch (error) {
    await client.close().catch(() => {});
    if (error instanceof ActionLogConfigError) throw error;
    throw unreachable('MongoDB', uri, error);
  }
  const store = new MongoStore({ client: client as unknown as MongoClientLike, dbName, prefix, createIndexes: false });
  return { store, close: () => client.close() };
}
