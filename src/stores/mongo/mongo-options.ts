import { z } from 'zod';
import { ActionLogConfigError } from '../../shared/errors.js';
import { DEFAULT_PREFIX, TABLES, type TableKey } from '../tables.js';
import type { MongoClientLike, MongoConnectionLike, MongoDbLike } from './mongo-types.js';

/** Collection names, by what they hold. */
export interface MongoCollectionNames {
  requests: string;
  actionLogs: string;
  modelLogs: string;
  activities: string;
  /** The newest action of each (actor, action type), with option `latestActions`. */
  latestActions: string;
  /** Signed checkpoints of tamper evidence. */
  checkpoints: string;
  /** The counter that orders writes for `tail` (one document). */
  counters: string;
  /** The GridFS bucket of attachments' bytes: collections `<name>.files` and `<name>.chunks`. */
  attachments: string;
}

interface MongoStoreCommon {
  /** Prefix of the collection names. Default `"actionlog_"`; `""` keeps the names of versions before 0.2 (`requests`...). */
  prefix?: string;
  /** Collection names, one by one, over the prefixed ones. */
  collections?: Partial<MongoCollectionNames>;
  /** Create the indexes when the logger starts (idempotent). Default true. */
  createIndexes?: boolean;
  /**
   * How long a write of another process may take, in ms (default 2000). Reading in stored order (`tail`), the
   * store never passes a sequence another process may still be writing; it assumes those writes land within this
   * time, and returns them this long after they were numbered. A write slower than that may be passed over.
   */
  tailSettleMs?: number;
}

/**
 * Options of `new MongoStore(...)`: where the database is — a driver `Db`, a `MongoClient` (and `dbName`), or a
 * Mongoose connection (`mongoose.connection`, connected or not yet: the store waits for it to open).
 */
export type MongoStoreOptions = MongoStoreCommon &
  ({ db: MongoDbLike } | { client: MongoClientLike; dbName?: string } | { connection: MongoConnectionLike });

const hasMethod = (name: string) => (v: unknown) =>
  v !== null && typeof v === 'object' && typeof (v as Record<string, unknown>)[name] === 'function';
const collectionName = z
  .string()
  .min(1, 'must not be empty')
  .regex(/^[^$\0]+$/, 'must be a valid collection name');

export const mongoStoreSchema = z
  .strictObject({
    db: z.custom<MongoDbLike>(hasMethod('collection'), { error: 'must be a driver Db' }).optional(),
    client: z.custom<MongoClientLike>(hasMethod('db'), { error: 'must be a MongoClient' }).optional(),
    dbName: z.string().min(1).optional(),
    connection: z
      .custom<MongoConnectionLike>(hasMethod('once'), { error: 'must be a Mongoose connection (mongoose.connection)' })
      .optional(),
    prefix: z.string().max(40, 'must be at most 40 characters').default(DEFAULT_PREFIX),
    collections: z
      .strictObject({
        requests: collectionName,
        actionLogs: collectionName,
        modelLogs: collectionName,
        activities: collectionName,
        latestActions: collectionName,
        counters: collectionName,
        attachments: collectionName,
      })
      .partial()
      .default({}),
    createIndexes: z.boolean().default(true),
    tailSettleMs: z
      .number({ error: 'must be a number of milliseconds' })
      .int('must be an integer')
      .min(0, 'must not be negative')
      .max(600_000, 'must be at most 600000 (10 minutes)')
      .default(2000),
  })
  .superRefine((o, ctx) => {
    const given = [o.db, o.client, o.connection].filter((v) => v !== undefined).length;
    if (given !== 1)
      ctx.addIssue({ code: 'custom', path: ['db'], message: 'give one of db, client (with an optional dbName) or connection' });
    if (o.dbName && !o.client) ctx.addIssue({ code: 'custom', path: ['dbName'], message: 'dbName goes with client' });
  });

/** `{ db: mongoose.connection.db }` before `connect()` passes `db: undefined`: said plainly, with the fix. */
export function checkNotConnectedYet(options: object): void {
  if (Object.hasOwn(options, 'db') && (options as { db?: unknown }).db === undefined) {
    const message =
      'is undefined: mongoose.connection.db is only set once connected; pass { connection: mongoose.connection } instead, which waits for it';
    throw new ActionLogConfigError([{ path: 'db', message }], 'MongoStore options');
  }
}

export function collectionNames(prefix: string, given: Partial<MongoCollectionNames>): MongoCollectionNames {
  const keys = Object.keys(TABLES) as TableKey[];
  const tables = Object.fromEntries(keys.map((key) => [key, given[key] ?? `${prefix}${TABLES[key].name}`])) as Record<TableKey, string>;
  return { ...tables, counters: given.counters ?? `${prefix}counters`, attachments: given.attachments ?? `${prefix}attachments` };
}
