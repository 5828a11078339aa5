import { type Command, InvalidArgumentError, Option, type OptionValues } from 'commander';
import { type ActionLogger, createActionLogger } from '../../logger.js';
import { ActionLogError } from '../../shared/errors.js';
import { DEFAULT_PREFIX } from '../../stores/tables.js';
import type { Store } from '../../stores/store.js';
import type { SigningKey } from '../../build/integrity/checkpoint-keys.js';
import type { CheckpointDocument } from '../../shared/document.js';
import { usageError } from './exit-codes.js';
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

/** Opens the one database the flags name and a logger on its trail, or says what is wrong with the flags. */
export async function openConnection(options: OptionValues, overrides: LoggerOverrides = {}): Promise<Connection> {
  const flags = options as ConnectionFlags;
  const given = (['mongodb', 'postgres', 'sqlite'] as const).filter((name) => flags[name] !== undefined);
  if (given.length === 0) throw usageError('', 'give the database: --mongodb URI, --postgres URL or --sqlite FILE');
  if (given.length > 1) throw usageError(`--${given[1]}`, `give one database, not ${given.map((name) => `--${name}`).join(' and ')}`);
  if (flags.db !== undefined && !flags.mongodb) throw usageError('--db', 'goes with --mongodb');
  const opened = flags.mongodb
    ? await openMongo(flags.mongodb, flags.db, flags.prefix, flags.connectTimeout)
    : await openSql(flags.postgres ? { postgres: flags.postgres } : { sqlite: flags.sqlite ?? '' }, flags.prefix, flags.connectTimeout);
  const warnings: string[] = [];
  const logger = createActionLogger({
    ...overrides,
    store: opened.store,
    onError: (error) => {
      // A failed start is thrown to the command as well: said once, there.
      if (!(error instanceof ActionLogError && error.message === 'Store initialization failed')) warnings.push(error.message);
    },
  });
  try {
    await logger.ready();
  } catch (error) {
    await logger.close().catch(() => {});
    await opened.close();
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
