/*
 * Every place actionlog changes TypeORM's behaviour, in one file. Checked with TypeORM 1.1.x.
 *
 * - `execute()` of UpdateQueryBuilder, DeleteQueryBuilder, SoftDeleteQueryBuilder and InsertQueryBuilder (their
 *   prototypes, once per process, when `actionlog/typeorm` is loaded): TypeORM gives subscribers no rows for
 *   query-level writes, so the wrapper hands the write to the capture when the data source has an
 *   ActionLogSubscriber and the builder calls listeners; any other write runs untouched.
 * - The five write phases of SubjectExecutor (`executeInsertOperations`, `executeUpdateOperations`,
 *   `executeRemoveOperations`, `executeSoftRemoveOperations`, `executeRecoverOperations`; its prototype, once per
 *   process): `save()`, `remove()`, `softRemove()` and `recover()` run their statements through write builders with
 *   listeners off; while a phase of a persistence with listeners on runs, its query runner is marked, so that the
 *   hooks above record those statements like any other (see `persistingWithListeners`).
 * - `query()` of one query runner, for one statement: the statement a write builder builds is run inside `WITH`
 *   (PostgreSQL 18+), so that it returns its rows (see returning-writes.ts), or with the keys of the rows it inserts
 *   returned (PostgreSQL, see inserted-keys.ts).
 *
 * - `buildMetadatas()` of DataSource (its prototype, once per process): TypeORM's `subscribers` option takes classes
 *   and drops instances without a word; an ActionLogSubscriber instance given there (`subscribers: [new
 *   ActionLogSubscriber(logger)]`, the natural thing to write) is added to the data source's subscribers after it.
 *
 * Internals read without being changed: a builder's `expressionMap`, `queryRunner`, `createWhereExpression`,
 * `getTableName`, `getMainTableName`, `replacePropertyNamesForTheWholeQuery`; a query runner's `transactionDepth`;
 * a SubjectExecutor's `queryRunner` and `options`.
 */
import { DataSource, DeleteQueryBuilder, InsertQueryBuilder, type QueryRunner, UpdateQueryBuilder } from 'typeorm';
// Not exported from the package root.
import { SubjectExecutor } from 'typeorm/persistence/SubjectExecutor.js';
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

const PERSISTING = Symbol.for('actionlog.typeorm.persisting');
const PHASES = [
  'executeInsertOperations',
  'executeUpdateOperations',
  'executeRemoveOperations',
  'executeSoftRemoveOperations',
  'executeRecoverOperations',
] as const;

interface ExecutorInternals {
  queryRunner: QueryRunner;
  options?: { listeners?: boolean };
}

type MarkedRunner = QueryRunner & { [PERSISTING]?: number };

/**
 * Marks a query runner while a SubjectExecutor with listeners on runs the statements of one of its write phases
 * on it (once per process; the mark is a counter on the runner, shared by every copy of actionlog).
 */
export function installPersistenceHooks(): void {
  const proto = SubjectExecutor.prototype as unknown as Record<string, unknown> & { [PATCHED]?: boolean };
  if (proto[PATCHED]) return;
  for (const phase of PHASES) {
    const original = proto[phase] as (this: ExecutorInternals) => Promise<void>;
    proto[phase] = async function run(this: ExecutorInternals): Promise<void> {
      if (this.options?.listeners === false) return original.call(this);
      const runner = this.queryRunner as MarkedRunner;
      runner[PERSISTING] = (runner[PERSISTING] ?? 0) + 1;
      try {
        await original.call(this);
      } finally {
        runner[PERSISTING] -= 1;
      }
    };
  }
  proto[PATCHED] = true;
}

/** Keeps the instances of `isKept` given in a DataSource's `subscribers` option, which TypeORM would drop. */
export function installSubscriberInstances(isKept: (subscriber: unknown) => boolean): void {
  const proto = DataSource.prototype as unknown as { buildMetadatas: (this: DataSource) => Promise<void>; [PATCHED]?: boolean };
  if (proto[PATCHED]) return;
  const original = proto.buildMetadatas;
  proto.buildMetadatas = async function buildMetadatas(this: DataSource): Promise<void> {
    await original.call(this);
    const given: unknown = this.options.subscribers;
    const list: unknown[] = Array.isArray(given) ? given : given && typeof given === 'object' ? Object.values(given) : [];
    for (const subscriber of list) {
      if (isKept(subscriber) && !this.subscribers.includes(subscriber as never)) this.subscribers.push(subscriber as never);
    }
  };
  proto[PATCHED] = true;
}

/** Whether a SubjectExecutor with listeners on is running its statements on `runner` (see installPersistenceHooks). */
export function persistingWithListeners(runner: QueryRunner | undefined): boolean {
  const marked: MarkedRunner | undefined = runner;
  return (marked?.[PERSISTING] ?? 0) > 0;
}

export type RunQuery = (this: QueryRunner, sql: string, parameters?: unknown[], structured?: boolean) => Promise<unknown>;

type StatementHandler = (
  original: RunQuery,
  self: QueryRunner,
  sql: string,
  parameters: unknown[] | undefined,
  structured: boolean | undefined,
) => Promise<unknown>;

/** On a runner while statements of its are intercepted: the handler of each marker, and how to give `query` back. */
const INTERCEPTS = Symbol.for('actionlog.typeorm.intercepts');
interface Interception {
  handlers: Map<string, StatementHandler>;
  /** Gives the runner its own `query` back once no marker is left. */
  uninstall(): void;
}
type InterceptedRunner = QueryRunner & { [INTERCEPTS]?: Interception };

let markers = 0;

/** A marker no other statement holds, for `interceptStatement`: writes side by side on one runner each get theirs. */
export const uniqueMarker = (name: string) => `/* actionlog: ${name} ${String(++markers)} */`;

/**
 * Has `handle` run the next statement of `runner` that contains `marker` (given the runner's own `query` to call),
 * and every other statement run as usual. One `query` stands in for the runner's own while any statement of it is
 * intercepted (writes side by side in one transaction each intercept their own), and the runner gets its own back
 * when the last is taken; the function returned forgets `marker` in any case (call it in a `finally`).
 */
export function interceptStatement(runner: QueryRunner, marker: string, handle: StatementHandler): () => void {
  const intercepted = runner as InterceptedRunner;
  const interception = intercepted[INTERCEPTS] ?? install(intercepted);
  interception.handlers.set(marker, handle);
  return () => {
    interception.handlers.delete(marker);
    interception.uninstall();
  };
}

/** Puts the `query` that hands each marked statement to its handler in place of the runner's own. */
function install(runner: InterceptedRunner): Interception {
  const original = (runner as unknown as { query: RunQuery }).query;
  const own = Object.hasOwn(runner, 'query');
  const interception: Interception = {
    handlers: new Map(),
    uninstall() {
      if (this.handlers.size > 0 || runner[INTERCEPTS] !== this) return;
      runner[INTERCEPTS] = undefined;
      if (own) runner.query = original as QueryRunner['query'];
      else delete (runner as Partial<QueryRunner>).query;
    },
  };
  runner[INTERCEPTS] = interception;
  runner.query = function query(this: QueryRunner, sql: string, parameters?: unknown[], structured?: boolean) {
    for (const [marker, handler] of interception.handlers) {
      if (!sql.includes(marker)) continue;
      interception.handlers.delete(marker);
      interception.uninstall();
      return handler(original, this, sql, parameters, structured);
    }
    return original.call(this, sql, parameters, structured);
  } as QueryRunner['query'];
  return interception;
}
