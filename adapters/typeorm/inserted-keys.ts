import type { EntityMetadata, InsertResult, ObjectLiteral, QueryRunner } from 'typeorm';
import { hydrate, isSqliteFamily, storedColumns } from './entity-state.js';
import { interceptStatement, uniqueMarker } from './patches.js';
import { OLD_AND_NEW, tableLetsReturningThrough } from './returning-writes.js';
import { inFailedTransaction } from './savepoints.js';
import { dataSourceOf, metadataOf, type QueryWriteRecorder, type WriteBuilder } from './write-builder.js';

/*
 * The primary keys of the rows a plain INSERT wrote, in the order of its value sets, whether or not TypeORM learns
 * them itself (it does not with `updateEntity(false)`, which `save(x, { reload: false })` uses).
 */

/** The alias of the stored column at `index` in what the statement returns for actionlog (`old`: its old value). */
const alias = (index: number, old = false) => `actionlog_${old ? 'old' : 'col'}_${index}`;
/** The alias of whether an upsert updated a returned row. */
const UPDATED = 'actionlog_xmax';

export interface InsertedRows {
  /** What the insert answers its caller, as without actionlog. */
  result: InsertResult;
  /** Each value set's primary key, or undefined where it cannot be known. */
  keys: Array<ObjectLiteral | undefined>;
  /** PostgreSQL: the rows as stored, returned by the INSERT itself, so that none is read after it; else undefined. */
  rows?: ObjectLiteral[];
  /** With `before: 'values'`: each returned row as it was before the statement, null where it inserted the row. */
  old?: Array<ObjectLiteral | null>;
  /** With `before: 'updated'`: whether the statement updated each returned row (else it inserted it). */
  updated?: boolean[];
}

/** What an upsert's rows are returned with, besides their stored columns (see `runInsertWithKeys`). */
export type UpsertBefore = 'values' | 'updated';

/**
 * Runs the insert and learns the keys of its rows: from the values given, from TypeORM's answer, from keys TypeORM
 * generated itself (uuid), from SQLite's last row id, or (PostgreSQL) from the rows its `RETURNING` gives back:
 * every stored column (only the keys where the table does not let RETURNING through: see
 * `tableLetsReturningThrough`) under aliases of actionlog's, beside what TypeORM asks for itself, which neither
 * TypeORM nor the caller sees. For an upsert whose rows are returned whole, `before`: `'values'` (PostgreSQL 18+),
 * each row's old values too, from the row the statement updated; `'updated'` (any version), whether it updated the
 * row rather than inserted it, by `xmax` as the statement leaves it (the version an ON CONFLICT DO UPDATE writes
 * keeps the row's lock there; an inserted one has 0 until the foreign-key checks at the statement's end lock it).
 */
export async function runInsertWithKeys(
  qb: WriteBuilder,
  runner: QueryRunner | undefined,
  valueSets: ObjectLiteral[],
  run: () => Promise<unknown>,
  recorder: QueryWriteRecorder,
  before?: UpsertBefore,
): Promise<InsertedRows> {
  const metadata = metadataOf(qb);
  // The returned rows as stored (hydrating them inside the statement would fail it should a transformer throw).
  let stored: ObjectLiteral[] = [];
  let storedOld: Array<ObjectLiteral | null> = [];
  let updated: boolean[] = [];
  let restore = () => {};
  // Every stored column where the table lets RETURNING through; else, where TypeORM asks for nothing, the keys.
  const whole =
    runner !== undefined &&
    (await insertReturnsRows(qb, runner, (error) => {
      recorder.report(error);
    }));
  if (runner && (whole || mustReturnKeys(qb))) {
    const saved = qb.expressionMap.returning;
    // What TypeORM returns of an insert itself, to update the entities (a string `returning` replaces it).
    const own = qb.expressionMap.updateEntity ? metadata.getInsertionReturningColumns().map((c) => qb.escape(c.databaseName)) : [];
    const columns = whole ? storedColumns(metadata) : metadata.primaryColumns;
    const old = before === 'values' && whole;
    const flagged = before === 'updated' && whole;
    const ours = columns.map((c, i) => `${qb.escape(c.databaseName)} AS "${alias(i)}"`);
    if (old) ours.push(...columns.map((c, i) => `actionlog_old.${qb.escape(c.databaseName)} AS "${alias(i, true)}"`));
    // As text: an xid compares with nothing but an xid, and a type parser of the application's reads no text.
    if (flagged) ours.push(`xmax::text AS "${UPDATED}"`);
    // This insert's own mark: another insert side by side on the runner has another.
    const mine = uniqueMarker('inserted rows');
    qb.expressionMap.returning = `${old ? `${OLD_AND_NEW} ` : ''}${[...own, ...ours].join(', ')} ${mine}`;
    const release = interceptStatement(runner, mine, async (original, self, sql, parameters, structured) => {
      const answer = (await original.call(self, sql, parameters, true)) as { records?: ObjectLiteral[] };
      const records = answer.records ?? [];
      stored = records.map((record) => storedRow(record, columns));
      // A row the statement inserted has no old values: not even its primary key.
      const key = alias(
        columns.findIndex((c) => c.isPrimary),
        true,
      );
      if (old) storedOld = records.map((record) => (record[key] === null ? null : storedRow(record, columns, true)));
      if (flagged) updated = records.map((record) => record[UPDATED] !== '0');
      // What the INSERT answers without actionlog: TypeORM's own columns, or no rows when it asked for none.
      const theirs = own.length > 0 ? records.map((record) => withoutOurs(record, columns.length)) : [];
      const plain = Object.assign(Object.create(Object.getPrototypeOf(answer) as object) as object, answer, {
        records: theirs,
        raw: theirs,
      });
      return structured ? plain : (plain as { raw: unknown }).raw;
    });
    restore = () => {
      release();
      qb.expressionMap.returning = saved;
    };
  }
  let result: InsertResult;
  try {
    result = (await run()) as InsertResult;
  } finally {
    restore();
  }
  // Hydrated only after the INSERT, under the guard: a transformer that throws is reported, and the rows go unrecorded.
  const returned: ObjectLiteral[] = [];
  const returnedOld: Array<ObjectLiteral | null> = [];
  recorder.guard(() => {
    returned.push(...stored.map((raw) => hydrate(metadata, raw)));
    returnedOld.push(...storedOld.map((raw) => raw && hydrate(metadata, raw)));
  });
  const locallyGenerated = (qb.expressionMap as { locallyGenerated?: Record<number, ObjectLiteral> }).locallyGenerated ?? {};
  const keys = valueSets.map((values, i) =>
    keyFrom(metadata, [values, result.identifiers[i], locallyGenerated[i], returned[i], lastRowIdKey(qb, result, i, valueSets.length)]),
  );
  return {
    result,
    keys,
    rows: whole ? returned : undefined,
    old: before === 'values' && whole ? returnedOld : undefined,
    updated: before === 'updated' && whole ? updated : undefined,
  };
}

/**
 * Whether the insert's rows come back from the INSERT itself: PostgreSQL, no `RETURNING` of the caller's, and a
 * table that lets RETURNING through (else they are read after it).
 */
export async function insertReturnsRows(qb: WriteBuilder, runner: QueryRunner, report: (error: unknown) => void): Promise<boolean> {
  return dataSourceOf(qb).driver.options.type === 'postgres' && !ownReturning(qb) && (await returningAllowed(qb, runner, report));
}

/** Whether the table lets RETURNING through; a check that could not be made is reported (and made again next time). */
async function returningAllowed(qb: WriteBuilder, runner: QueryRunner, report: (error: unknown) => void): Promise<boolean> {
  try {
    return await tableLetsReturningThrough(qb, dataSourceOf(qb), runner);
  } catch (error) {
    if (!inFailedTransaction(error)) report(error);
    return false;
  }
}

/** PostgreSQL returns nothing from an insert that neither updates entities nor asks for RETURNING itself. */
function mustReturnKeys(qb: WriteBuilder): boolean {
  return dataSourceOf(qb).driver.options.type === 'postgres' && !qb.expressionMap.updateEntity && !ownReturning(qb);
}

/** The caller's own RETURNING (unset unless asked for, whatever TypeORM's types say). */
function ownReturning(qb: WriteBuilder): boolean {
  const returning = qb.expressionMap.returning as string | string[] | undefined;
  return returning !== undefined && returning !== '' && !(Array.isArray(returning) && returning.length === 0);
}

/** A returned row's stored columns under their own names, as a SELECT of them reads them (for `hydrate`). */
function storedRow(record: ObjectLiteral, columns: ReadonlyArray<{ databaseName: string }>, old = false): ObjectLiteral {
  const raw: ObjectLiteral = {};
  columns.forEach((column, i) => {
    raw[column.databaseName] = record[alias(i, old)] as unknown;
  });
  return raw;
}

/** A returned row less actionlog's columns. */
function withoutOurs(record: ObjectLiteral, count: number): ObjectLiteral {
  const theirs: ObjectLiteral = {};
  for (const key of Object.keys(record)) {
    if (key === UPDATED) continue;
    const index = /^actionlog_(?:col|old)_(\d+)$/.exec(key)?.[1];
    if (index === undefined || Number(index) >= count) theirs[key] = record[key] as unknown;
  }
  return theirs;
}

/** SQLite answers an insert with the row id of its last row; the rows of one statement have consecutive ids. */
function lastRowIdKey(qb: WriteBuilder, result: InsertResult, index: number, count: number): ObjectLiteral | undefined {
  const driver = dataSourceOf(qb).driver;
  if (!isSqliteFamily(driver.options.type) || typeof result.raw !== 'number') return undefined;
  return driver.createGeneratedMap(metadataOf(qb), result.raw, index, count);
}

/** The primary key taken from the first source holding each key column, or undefined unless every one is found. */
function keyFrom(metadata: EntityMetadata, sources: Array<ObjectLiteral | undefined>): ObjectLiteral | undefined {
  const key: ObjectLiteral = {};
  for (const column of metadata.primaryColumns) {
    const value: unknown = sources
      .map((source): unknown => (source ? column.getEntityValue(source) : undefined))
      .find((v) => v !== undefined && v !== null && typeof v !== 'function');
    if (value === undefined) return undefined;
    column.setEntityValue(key, value);
  }
  return metadata.primaryColumns.length > 0 ? key : undefined;
}
