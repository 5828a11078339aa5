import type { EntityMetadata, InsertResult, ObjectLiteral, QueryRunner } from 'typeorm';
import { isSqliteFamily } from './entity-state.js';
import { interceptStatement } from './patches.js';
import { dataSourceOf, metadataOf, type WriteBuilder } from './write-builder.js';

/*
 * The primary keys of the rows a plain INSERT wrote, in the order of its value sets, whether or not TypeORM learns
 * them itself (it does not with `updateEntity(false)`, which `save(x, { reload: false })` uses).
 */

// Names the statement among those the runner sends (a comment: the SQL text is otherwise TypeORM's).
const MARKER = '/* actionlog: inserted keys */';

export interface InsertedRows {
  /** What the insert answers its caller, as without actionlog. */
  result: InsertResult;
  /** Each value set's primary key, or undefined where it cannot be known. */
  keys: Array<ObjectLiteral | undefined>;
}

/**
 * Runs the insert and learns the keys of its rows: from the values given, from TypeORM's answer, from keys TypeORM
 * generated itself (uuid), from SQLite's last row id, or (PostgreSQL, when the statement returns nothing) from
 * `RETURNING` of the keys, which the caller never sees.
 */
export async function runInsertWithKeys(
  qb: WriteBuilder,
  runner: QueryRunner | undefined,
  valueSets: ObjectLiteral[],
  run: () => Promise<unknown>,
): Promise<InsertedRows> {
  const metadata = metadataOf(qb);
  let returned: ObjectLiteral[] = [];
  let restore = () => {};
  if (runner && mustReturnKeys(qb)) {
    const saved = qb.expressionMap.returning;
    qb.expressionMap.returning = `${metadata.primaryColumns.map((c, i) => `${qb.escape(c.databaseName)} AS "actionlog_key_${i}"`).join(', ')} ${MARKER}`;
    const release = interceptStatement(runner, MARKER, async (original, self, sql, parameters, structured) => {
      const answer = (await original.call(self, sql, parameters, true)) as { records?: ObjectLiteral[] };
      returned = answer.records ?? [];
      // What the plain INSERT answers: no rows.
      const plain = Object.assign(Object.create(Object.getPrototypeOf(answer) as object) as object, answer, { records: [], raw: [] });
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
  const locallyGenerated = (qb.expressionMap as { locallyGenerated?: Record<number, ObjectLiteral> }).locallyGenerated ?? {};
  const keys = valueSets.map((values, i) =>
    keyFrom(metadata, [
      values,
      result.identifiers[i],
      locallyGenerated[i],
      returnedKey(metadata, returned[i]),
      lastRowIdKey(qb, result, i, valueSets.length),
    ]),
  );
  return { result, keys };
}

/** PostgreSQL returns nothing from an insert that neither updates entities nor asks for RETURNING itself. */
function mustReturnKeys(qb: WriteBuilder): boolean {
  const map = qb.expressionMap;
  const returning = map.returning as string | string[] | undefined;
  const ownReturning = returning !== undefined && returning !== '' && !(Array.isArray(returning) && returning.length === 0);
  return dataSourceOf(qb).driver.options.type === 'postgres' && !map.updateEntity && !ownReturning;
}

function returnedKey(metadata: EntityMetadata, row: ObjectLiteral | undefined): ObjectLiteral | undefined {
  if (!row) return undefined;
  const key: ObjectLiteral = {};
  const driver = metadata.dataSource.driver;
  metadata.primaryColumns.forEach((column, i) => {
    column.setEntityValue(key, driver.prepareHydratedValue(row[`actionlog_key_${i}`], column));
  });
  return key;
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
