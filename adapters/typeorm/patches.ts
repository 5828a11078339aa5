/*
 * Every place actionlog changes TypeORM's behaviour, in one file. Checked with TypeORM 1.1.x.
 *
 * - `execute()` of UpdateQueryBuilder, DeleteQueryBuilder, SoftDeleteQueryBuilder and InsertQueryBuilder (their
 *   prototypes, once per process, when `actionlog/typeorm` is loaded): TypeORM gives subscribers no rows for
 *   query-level writes, so the wrapper hands the write to the capture when the data source has an
 *   ActionLogSubscriber and the builder calls listeners; any other write runs untouched.
 * - `query()` of one query runner, for one statement (PostgreSQL 18+): the statement a write builder builds is run
 *   inside `WITH`, so that it returns its rows (see returning-writes.ts).
 *
 * Internals read without being changed: a builder's `expressionMap`, `createWhereExpression`, `getTableName`,
 * `getMainTableName`, `replacePropertyNamesForTheWholeQuery`; a query runner's `transactionDepth`.
 */
import { DeleteQueryBuilder, InsertQueryBuilder, type QueryRunner, UpdateQueryBuilder } from 'typeorm';
// Not exported from the package root.
import { SoftDeleteQueryBuilder } from 'typeorm/query-builder/SoftDeleteQueryBuilder.js';
import type { QueryWriteRecorder, WriteBuilder } from './write-builder.js';

const PATCHED = Symbol.for('actionlog.typeorm.patched-execute');

/** Wraps the write builders' `execute` once per process (every copy of actionlog shares the mark). */
export function installQueryWriteHooks(
  recorderFor: (qb: WriteBuilder) => QueryWriteRecorder | undefined,
  capture: (qb: WriteBuilder, recorder: QueryWriteRecorder, run: () => Promise<unknown>) => Promise<unknown>,
): void {
  for (const cls of [UpdateQueryBuilder, DeleteQueryBuilder, SoftDeleteQueryBuilder, InsertQueryBuilder] as Array<{ prototype: object }>) {
    const proto = cls.prototype as { execute: (this: WriteBuilder) => Promise<unknown>; [PATCHED]?: boolean };
    if (proto[PATCHED]) continue;
    const original = proto.execute;
    proto.execute = function execute(this: WriteBuilder) {
      const recorder = recorderFor(this);
      return recorder ? capture(this, recorder, () => original.call(this)) : original.call(this);
    };
    proto[PATCHED] = true;
  }
}

export type RunQuery = (this: QueryRunner, sql: string, parameters?: unknown[], structured?: boolean) => Promise<unknown>;

/**
 * Has `handle` run the next statement of `runner` that contains `marker` (given the runner's own `query` to call),
 * and every other statement run as usual. The runner gets its own `query` back before `handle` runs; the function
 * returned gives it back in any case (call it in a `finally`).
 */
export function interceptStatement(
  runner: QueryRunner,
  marker: string,
  handle: (
    original: RunQuery,
    self: QueryRunner,
    sql: string,
    parameters: unknown[] | undefined,
    structured: boolean | undefined,
  ) => Promise<unknown>,
): () => void {
  const original = (runner as unknown as { query: RunQuery }).query;
  const own = Object.hasOwn(runner, 'query');
  const restore = () => {
    if (own) runner.query = original as QueryRunner['query'];
    else delete (runner as Partial<QueryRunner>).query;
  };
  runner.query = function query(this: QueryRunner, sql: string, parameters?: unknown[], structured?: boolean) {
    if (!sql.includes(marker)) return original.call(this, sql, parameters, structured);
    restore();
    return handle(original, this, sql, parameters, structured);
  } as QueryRunner['query'];
  return restore;
}
