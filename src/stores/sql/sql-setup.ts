import { ActionLogConfigError } from '../../shared/errors.js';
import type { StoreInfo } from '../store.js';
import { TABLES } from '../tables.js';
import { runInTransaction } from './sql-run.js';
import {
  clashingNames,
  columnNames,
  migrateSchema,
  requiredColumns,
  runProgram,
  type SqlEngine,
  type SqlQuery,
  type SqlTables,
} from './sql-schema.js';
import { concurrentSearchIndex, foldsAccentsQuery, searchIndexQuery } from './sql-search.js';
import type { SqlDataSourceLike, SqlProgram } from './sql-types.js';

/** Any number, the same in every process: PostgreSQL's advisory lock serializes concurrent table creation. */
const SCHEMA_LOCK = 0x61_63_74_6c;

export interface TableSetup {
  engine: SqlEngine;
  tables: SqlTables;
  createTables: boolean;
  /** The names were chosen (a prefix or tables given): no hint about the names of earlier versions. */
  namesGiven: boolean;
}

/**
 * Readies the store's tables at start: creates or upgrades them (with `createTables`), then checks every column is
 * there, naming what is missing once.
 */
export async function setUpTables(dataSource: SqlDataSourceLike, setup: TableSetup, info: StoreInfo | undefined): Promise<void> {
  const { engine, tables } = setup;
  const clashes = engine === 'postgres' ? clashingNames(tables) : [];
  if (clashes.length > 0) {
    const message = `are too long: PostgreSQL keeps the first 63 bytes of a name, and would take these for one: ${clashes.slice(0, 3).join('; ')}${clashes.length > 3 ? '...' : ''}`;
    throw new ActionLogConfigError([{ path: 'tables', message }], 'SqlStore options');
  }
  const query: SqlQuery = (sql, params) => dataSource.query(sql, params);
  if (info && !setup.namesGiven && (await runProgram(query, columnNames(engine, tables.requests))).size === 0) {
    await warnOfEarlierNames(query, engine, info);
  }
  await refuseForeignTables(query, setup);
  if (setup.createTables) {
    const apart = engine === 'postgres' && (await searchIndexBuildsApart(query, tables.actionLogs));
    await runInTransaction(dataSource, locked(migrateSchema(engine, tables, { searchIndex: !apart }), engine));
    if (apart) await buildSearchIndex(query, tables.actionLogs);
  }
  await checkColumns(query, setup, info?.latestActions === true);
  if (info && engine === 'postgres') {
    const [folds] = (await query(foldsAccentsQuery(tables.actionLogs))) as Array<{ n: string | number }>;
    if (Number(folds?.n ?? 0) === 0) {
      const message = 'PostgreSQL has no unaccent extension for the text search of actions (q): words match with their accents as written';
      info.warn(new ActionLogConfigError([{ path: 'dataSource', message }], 'SqlStore options'));
    }
    const [indexed] = (await query(searchIndexQuery(tables.actionLogs))) as Array<{ n: string | number }>;
    if (Number(indexed?.n ?? 0) === 0) {
      const message =
        'the text index of actions (q) is missing, so q reads the whole table: run ActionLogSearchWordsMigration (ActionLogMigrations), or let the store create it (createTables: true)';
      info.warn(new ActionLogConfigError([{ path: 'createTables', message }], 'SqlStore options'));
    }
  }
}

/**
 * PostgreSQL: the text index is to be made on a table that holds actions (an upgrade), or made again after a build
 * that failed: built apart, not in the transaction.
 */
async function searchIndexBuildsApart(query: SqlQuery, actions: string): Promise<boolean> {
  const statements = concurrentSearchIndex(actions);
  const [table] = (await query(statements.table)) as Array<{ exists: boolean }>;
  if (!table?.exists) return false;
  const [state] = (await query(statements.state)) as Array<{ rows: boolean; valid: boolean | null }>;
  return state?.valid === false || (state?.rows === true && state.valid !== true);
}

/**
 * Builds the text index without holding the actions' writes (those of every process) for as long as it reads the
 * table, then drops the earlier version's. A build another process has under way is left to it; one that failed
 * (an invalid index nobody builds) is dropped and made again.
 */
async function buildSearchIndex(query: SqlQuery, actions: string): Promise<void> {
  const statements = concurrentSearchIndex(actions);
  const state = async () => ((await query(statements.state)) as Array<{ valid: boolean | null; building: boolean }>)[0];
  const before = await state();
  if (before?.valid === false && !before.building) await query(statements.dropBroken);
  if (before?.valid !== true && !before?.building) {
    try {
      await query(statements.create);
    } catch (error) {
      // Another process starting at the same moment made it first ("already exists"): its build goes on.
      const now = await state();
      if (now?.valid !== true && !now?.building) throw error;
    }
  }
  if ((await state())?.valid === true) await query(statements.dropEarlier);
}

/** A column each of the store's tables has had since it first existed: a table of that name without it is another's. */
const SIGNATURE: Record<keyof SqlTables, string> = {
  requests: 'details',
  actionLogs: 'action_type',
  modelLogs: 'model_id',
  activities: 'activity_date',
  latestActions: 'action_uid',
  checkpoints: 'chain',
  attachments: 'attachment_id',
};

/**
 * An application's own table under one of the store's names (`attachments` with `prefix: ''`) is refused at start,
 * naming the option that gives the store another: creating its indexes there would fail, or worse, succeed.
 */
async function refuseForeignTables(query: SqlQuery, setup: TableSetup): Promise<void> {
  const issues: Array<{ path: string; message: string }> = [];
  for (const key of Object.keys(SIGNATURE) as Array<keyof SqlTables>) {
    const table = setup.tables[key];
    const present = await runProgram(query, columnNames(setup.engine, table));
    if (present.size === 0 || present.has(SIGNATURE[key])) continue;
    const message = `table "${table}" is not actionlog's (it has no ${SIGNATURE[key]} column): give actionlog's another name (tables: { ${key}: '...' })`;
    issues.push({ path: `tables.${key}`, message });
  }
  if (issues.length > 0) throw new ActionLogConfigError(issues, 'SqlStore options');
}

/** Two processes starting at once would race on PostgreSQL's catalog even with IF NOT EXISTS. */
function* locked(program: SqlProgram, engine: SqlEngine): SqlProgram {
  if (engine === 'postgres') yield { sql: 'SELECT pg_advisory_xact_lock($1)', params: [SCHEMA_LOCK] };
  yield* program;
}

/**
 * Versions before 0.2 named the tables without a prefix. An app upgrading without `prefix: ''` would start
 * writing (and reading) new, empty tables beside its trail: said once, at start.
 */
async function warnOfEarlierNames(query: SqlQuery, engine: SqlEngine, info: StoreInfo): Promise<void> {
  const earlier = await runProgram(query, columnNames(engine, TABLES.requests.name));
  if (!earlier.has('uid') || !earlier.has('details')) return;
  const message = `table "${TABLES.requests.name}" holds an earlier actionlog trail: pass prefix: '' to keep writing there`;
  info.warn(new ActionLogConfigError([{ path: 'prefix', message }], 'SqlStore options'));
}

/** Tables made by hand or by an older version may lack columns: said once, at start, naming them. */
async function checkColumns(query: SqlQuery, setup: TableSetup, latestActions: boolean): Promise<void> {
  const problems: string[] = [];
  for (const { table, columns } of requiredColumns(setup.engine, setup.tables, latestActions)) {
    const present = await runProgram(query, columnNames(setup.engine, table));
    if (present.size === 0) {
      problems.push(`table ${table} does not exist`);
      continue;
    }
    const missing = columns.filter((c) => !present.has(c));
    if (missing.length > 0) problems.push(`table ${table} lacks ${missing.join(', ')}`);
  }
  if (problems.length === 0) return;
  const fix = setup.createTables
    ? 'run ActionLogMigrations from actionlog/typeorm to bring older tables up to date'
    : 'create them (createTables: true, or ActionLogMigrations from actionlog/typeorm, which also upgrade tables of earlier versions)';
  throw new ActionLogConfigError([{ path: 'dataSource', message: `${problems.join('; ')}: ${fix}` }], 'SqlStore options');
}
