/**
 * Words in actions (`q`): their note, target name and actor name, case and accents aside.
 *
 * PostgreSQL: an expression GIN index (`<action_logs>_words`) over `to_tsvector` with a text search configuration
 * of the trail's own (`<action_logs>_text`): the `simple` one (no stemming, no stop words), with `unaccent` before
 * it when that extension can be created; without it, accents must match as written. Every word of `q` must be
 * there (`plainto_tsquery`). Punctuation is made a space first: PostgreSQL's parser keeps an email, a host, a
 * version or a path as one token (`alice@example.com`), where the other stores see words (`alice`, `example`).
 * SQLite: an FTS5 table (`<action_logs>_text`, contentless, tokenizer unicode61 removing diacritics) kept by
 * triggers on the actions table, so every write, by this store or another process, keeps it whole.
 */
import type { SqlEngine } from './sql-schema.js';

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The text index's name (the FTS5 table on SQLite; the configuration on PostgreSQL). */
export const searchTable = (actions: string) => `${actions}_text`;

/** PostgreSQL: the text index's name. Earlier versions named it as the configuration, and indexed the text unsplit. */
export const searchIndex = (actions: string) => `${actions}_words`;

/** A name as PostgreSQL keeps it: its first 63 bytes. */
export const pgName = (name: string) => Buffer.from(name, 'utf8').subarray(0, 63).toString('utf8');

/** The configuration as a constant, the same in the index and the queries (so that the planner matches them). */
const config = (actions: string) => `${literal(quote(searchTable(actions)))}::regconfig`;

const searchedText = `coalesce("note", '') || ' ' || coalesce("target" ->> 'name', '') || ' ' || coalesce("actor" ->> 'name', '')`;

/** PostgreSQL: the words of an action, as the index holds them (`split: false`: as earlier versions did). */
export const searchDocument = (actions: string, split = true) =>
  `to_tsvector(${config(actions)}, ${split ? `regexp_replace(${searchedText}, '[[:punct:]]+', ' ', 'g')` : searchedText})`;

/**
 * The words of `q`, as the stores' tokenizers see them: letters, digits and the marks written with them (a vowel sign
 * of Devanagari or Thai is part of its word for PostgreSQL's parser). A word without a letter or digit is none.
 */
export const searchWords = (q: string) => q.split(/[^\p{L}\p{N}\p{M}]+/u).filter((word) => /[\p{L}\p{N}]/u.test(word));

/** A condition matching actions with every word of `q`, and its parameter; none when `q` has no word. */
export function searchCondition(engine: SqlEngine, actions: string, q: string): [string, string] | undefined {
  const words = searchWords(q);
  if (words.length === 0) return undefined;
  if (engine === 'postgres') return [`${searchDocument(actions)} @@ plainto_tsquery(${config(actions)}, ?)`, words.join(' ')];
  const table = quote(searchTable(actions));
  // FTS5: each word a quoted string (no operator can slip in), all of them required.
  return [`"id" IN (SELECT rowid FROM ${table} WHERE ${table} MATCH ?)`, words.map((w) => `"${w}"`).join(' ')];
}

/**
 * The statements creating the text index, where missing. `index: false` leaves out PostgreSQL's index itself (and the
 * drop of the earlier one): built apart, without blocking writes (`concurrentSearchIndex`).
 */
export function searchStatements(engine: SqlEngine, actions: string, { index = true } = {}): string[] {
  const name = searchTable(actions);
  if (engine === 'postgres') {
    const ts = quote(name);
    // A subtransaction for the optional part: without unaccent (not installed, or no right to create it) the
    // configuration stays `simple`.
    const createConfig = `DO $actionlog$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = ${literal(name)} AND cfgnamespace = current_schema()::regnamespace) THEN
    CREATE TEXT SEARCH CONFIGURATION ${ts} (COPY = pg_catalog.simple);
    BEGIN
      CREATE EXTENSION IF NOT EXISTS unaccent;
      ALTER TEXT SEARCH CONFIGURATION ${ts} ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END IF;
END $actionlog$`;
    if (!index) return [createConfig];
    return [
      createConfig,
      `CREATE INDEX IF NOT EXISTS ${quote(searchIndex(actions))} ON ${quote(actions)} USING GIN (${searchDocument(actions)})`,
      // The index of earlier versions, superseded.
      `DROP INDEX IF EXISTS ${ts}`,
    ];
  }
  const fts = quote(name);
  const row = (r: 'new' | 'old') => `${r}."id", ${r}."note", json_extract(${r}."target", '$.name'), json_extract(${r}."actor", '$.name')`;
  const trigger = (event: string, action: string) =>
    `CREATE TRIGGER IF NOT EXISTS ${quote(`${name}_${event.replace(/ .*/, '').toLowerCase()}`)} AFTER ${event} ON ${quote(actions)} BEGIN ${action}; END`;
  return [
    `CREATE VIRTUAL TABLE IF NOT EXISTS ${fts} USING fts5(note, target_name, actor_name, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`,
    trigger('INSERT', `INSERT INTO ${fts} (rowid, note, target_name, actor_name) VALUES (${row('new')})`),
    trigger('DELETE', `DELETE FROM ${fts} WHERE rowid = old."id"`),
    trigger(
      'UPDATE OF "note", "target", "actor"',
      `DELETE FROM ${fts} WHERE rowid = old."id"; INSERT INTO ${fts} (rowid, note, target_name, actor_name) VALUES (${row('new')})`,
    ),
  ];
}

/** PostgreSQL: the statements putting back the text index of earlier versions (a migration's revert). */
export const unsplitSearchStatements = (actions: string) => [
  `CREATE INDEX IF NOT EXISTS ${quote(searchTable(actions))} ON ${quote(actions)} USING GIN (${searchDocument(actions, false)})`,
  `DROP INDEX IF EXISTS ${quote(searchIndex(actions))}`,
];

/** The statements dropping the text index (of this version or an earlier one). */
export function dropSearchStatements(engine: SqlEngine, actions: string): string[] {
  const ts = quote(searchTable(actions));
  if (engine === 'postgres')
    return [
      `DROP INDEX IF EXISTS ${quote(searchIndex(actions))}`,
      `DROP INDEX IF EXISTS ${ts}`,
      `DROP TEXT SEARCH CONFIGURATION IF EXISTS ${ts}`,
    ];
  return ['insert', 'delete', 'update']
    .map((e) => `DROP TRIGGER IF EXISTS ${quote(`${searchTable(actions)}_${e}`)}`)
    .concat(`DROP TABLE IF EXISTS ${ts}`);
}

/** PostgreSQL: whether the text index of `q` is there (`n` > 0): without it, `q` reads the whole table. */
export const searchIndexQuery = (actions: string) =>
  `SELECT count(*) AS n FROM pg_indexes WHERE indexname = ${literal(pgName(searchIndex(actions)))} AND schemaname = ANY(current_schemas(false))`;

/**
 * PostgreSQL, outside any transaction: the text index built `CONCURRENTLY` (writes to the actions go on while it is
 * built, where a plain build holds them for as long as it reads the table), and the earlier version's dropped so.
 */
export const concurrentSearchIndex = (actions: string) => ({
  create: `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quote(searchIndex(actions))} ON ${quote(actions)} USING GIN (${searchDocument(actions)})`,
  /** A build that failed or was stopped leaves an invalid index behind, which `IF NOT EXISTS` would keep. */
  dropBroken: `DROP INDEX CONCURRENTLY IF EXISTS ${quote(searchIndex(actions))}`,
  dropEarlier: `DROP INDEX CONCURRENTLY IF EXISTS ${quote(searchTable(actions))}`,
  /** The actions table holds rows (`rows`), and the state of the text index: none, `valid`, or being built (`building`). */
  state: `SELECT EXISTS (SELECT 1 FROM ${quote(actions)}) AS "rows", i.indisvalid AS "valid", EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS "building" FROM (SELECT 1) AS one LEFT JOIN pg_index i ON i.indexrelid = to_regclass(${literal(quote(searchIndex(actions)))})`,
  /** Whether the actions table exists (its state can be read). */
  table: `SELECT to_regclass(${literal(quote(actions))}) IS NOT NULL AS "exists"`,
});

/** PostgreSQL: whether the trail's text search folds accents (the `unaccent` extension was there when it was made). */
export const foldsAccentsQuery = (actions: string) =>
  `SELECT count(*) AS n FROM pg_ts_config_map m JOIN pg_ts_config c ON c.oid = m.mapcfg JOIN pg_ts_dict d ON d.oid = m.mapdict WHERE c.cfgname = ${literal(searchTable(actions))} AND d.dictname = 'unaccent'`;
