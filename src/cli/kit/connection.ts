import { type Command, InvalidArgumentError, Option, type OptionValues } from 'commander';
import { type ActionLogger, createActionLogger } from '../../logger.js';
import { ActionLogConfigError, ActionLogError } from '../../shared/errors.js';
import { DEFAULT_PREFIX } from '../../stores/tables.js';
import type { Store } from '../../stores/store.js';
import type { SigningKey } from '../../build/integrity/checkpoint-keys.js';
import type { CheckpointDocument } from '../../shared/document.js';
import { describeError, usageError } from './exit-codes.js';
import { flagOf } from './filter-flags.js';
import { openMongo } from './open-mongo.js';
import { openSql } from './open-sql.js';

/** The trail a command works on, through a logger; `close` releases the store and the connection it opened. */
export interface Connection {
  logger: ActionLogger;
  /** The logger's store, for what the logger does not answer (whether the trail has checkpoints). */
  store: Store;
  /** Warnings the store reported (an old table layout, a missing extension), to show once the command ends. */
  warnings: string[];
  close(): Promise<void>;
}

/** A store on a connection the CLI opened itself: `close` ends that connection. */
export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
}

export interface ConnectionFlags {
  mongodb?: string;
  db?: string;
  postgres?: string;
  sqlite?: string;
  prefix: string;
  connectTimeout: number;
}

const milliseconds = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of milliseconds');
  return Number(value);
};

/** The options that name the database, on every command. */
export function addConnectionOptions(command: Command): void {
  const group = 'Database (one of --mongodb, --postgres, --sqlite):';
  const options = [
    new Option('--mongodb <uri>', 'MongoDB connection string').env('ACTIONLOG_MONGODB'),
    new Option('--db <name>', 'MongoDB database (default: the one the URI names)'),
    new Option('--postgres <url>', 'PostgreSQL connection URL').env('ACTIONLOG_POSTGRES'),
    new Option('--sqlite <file>', 'SQLite database file'),
    new Option('--prefix <prefix>', 'prefix of the collection or table names').default(DEFAULT_PREFIX),
    new Option('--connect-timeout <ms>', 'how long to wait for the database').argParser(milliseconds).default(10_000),
  ];
  for (const option of options) command.addOption(option.helpGroup(group));
}

/** What a command sets on the logger beyond its store: the key that signs what purge and archive record. */
export interface LoggerOverrides {
  integrity?: { key: SigningKey; anchor?: (checkpoint: CheckpointDocument) => unknown };
}

/** Where an option's value came from (Commander's `getOptionValueSource`): `cli`, `env`, `default`... */
export type OptionSource = (name: string) => string | undefined;

const DATABASES = ['mongodb', 'postgres', 'sqlite'] as const;
const ENV_OF: Partial<Record<(typeof DATABASES)[number], string>> = { mongodb: 'ACTIONLOG_MONGODB', postgres: 'ACTIONLOG_POSTGRES' };

/** A database flag as the user gave it: on the command line, or by its environment variable. */
const named = (name: (typeof DATABASES)[number], sourceOf: OptionSource) =>
  sourceOf(name) === 'env' ? (ENV_OF[name] ?? `--${name}`) : `--${name}`;

/**
 * Opens the one database the flags name and a logger on its trail, or says what is wrong with the flags. A database
 * given on the command line goes before one an environment variable gives.
 */
export async function openConnection(
  options: OptionValues,
  overrides: LoggerOverrides = {},
  sourceOf: OptionSource = () => 'cli',
): Promise<Connection> {
  const flags = options as ConnectionFlags;
  const set = DATABASES.filter((name) => flags[name] !== undefined);
  const typed = set.filter((name) => sourceOf(name) !== 'env');
  const given = typed.length > 0 ? typed : set;
  if (given.length === 0) throw usageError('', 'give the database: --mongodb URI, --postgres URL or --sqlite FILE');
  if (given.length > 1)
    throw usageError(`--${given[1]}`, `give one database, not ${given.map((name) => named(name, sourceOf)).join(' and ')}`);
  const database = given[0];
  if (flags.db !== undefined && database !== 'mongodb') throw usageError('--db', 'goes with --mongodb');
  // Without --prefix, the store's own default: it then says so when it finds a trail of an earlier version's names.
  const prefix = sourceOf('prefix') === 'default' ? undefined : flags.prefix;
  const opened =
    database === 'mongodb'
      ? await openMongo(flags.mongodb ?? '', flags.db, prefix ?? flags.prefix, flags.connectTimeout)
      : await openSql(
          database === 'postgres' ? { postgres: flags.postgres ?? '' } : { sqlite: flags.sqlite ?? '' },
          prefix,
          flags.connectTimeout,
        );
  const warnings: string[] = [];
  // Set from the store's warnings while it starts.
  const start = { earlierNames: false };
  const logger = createActionLogger({
    ...overrides,
    store: opened.store,
    onError: (error) => {
      // A failed start is thrown to the command as well: said once, there.
      if (error instanceof ActionLogError && error.message === 'Store initialization failed') return;
      start.earlierNames ||= error instanceof ActionLogConfigError && error.issues.some((issue) => issue.path === 'prefix');
      warnings.push(describeError(error, flagOf));
    },
  });
  try {
    await logger.ready();
  } catch (error) {
    await logger.close().catch(() => {});
    await opened.close();
    // The store found the trail under the names of versions before 0.2, and none under these.
    if (start.earlierNames)
      throw usageError('--prefix', "the trail's tables have no prefix (the names of versions before 0.2): pass --prefix ''");
    throw error;
  }
  return {
    logger,
    store: opened.store,
    warnings,
    close: async () => {
      try {
        await logger.close();
      } finally {
        await opened.close();
      }
    },
  };
}
