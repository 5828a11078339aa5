import type { UserRef } from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import type { DataSource, EntityMetadata, ObjectLiteral, QueryBuilder, QueryRunner } from 'typeorm';

/** What the query hooks need from the subscriber. */
export interface QueryWriteRecorder {
  readonly maxDocumentsPerQuery: number;
  readonly queryWrites: 'auto' | 'readBefore';
  records(metadata: EntityMetadata): boolean;
  change(
    metadata: EntityMetadata,
    fields: Pick<ModelChange, 'action' | 'model_id' | 'old_object' | 'new_object'> & Partial<ModelChange>,
  ): ModelChange;
  record(change: ModelChange, runner: QueryRunner | undefined): void;
  report(error: unknown): void;
  /** Runs capture work: an error is reported, and thrown into the application only in strict mode. */
  guard(work: () => void): void;
  currentUser(): UserRef | null;
}

/** A write query builder, with the members the hooks read (public in JavaScript, not all in TypeORM's types). */
export type WriteBuilder = QueryBuilder<ObjectLiteral> & {
  expressionMap: QueryBuilder<ObjectLiteral>['expressionMap'] & {
    onUpdate?: { conflict?: string | string[]; overwrite?: string[] };
    onIgnore?: boolean;
    callListeners: boolean;
  };
  execute(): Promise<unknown>;
  getValueSets?(): ObjectLiteral[];
};

export type WriteKind = 'update' | 'delete' | 'soft-delete' | 'restore' | 'insert';
export type WhereKind = Exclude<WriteKind, 'insert'>;

export const ACTION: Readonly<Record<WhereKind, ModelChange['action']>> = {
  update: 'Updated',
  delete: 'Deleted',
  'soft-delete': 'SoftDeleted',
  restore: 'Restored',
};

export function kindOf(qb: WriteBuilder): WriteKind {
  const type = qb.expressionMap.queryType;
  if (type === 'insert' || type === 'update' || type === 'delete' || type === 'soft-delete' || type === 'restore') return type;
  throw new Error(`unexpected query type ${type}`);
}

export function dataSourceOf(qb: WriteBuilder): DataSource {
  return qb.dataSource;
}

/** The builder's main alias: every builder the capture handles has one (see `recorderFor`). */
export function mainAliasOf(qb: WriteBuilder): NonNullable<WriteBuilder['expressionMap']['mainAlias']> {
  const alias = qb.expressionMap.mainAlias;
  if (!alias) throw new Error('actionlog: a write query builder without a main alias');
  return alias;
}

export function metadataOf(qb: WriteBuilder): EntityMetadata {
  return mainAliasOf(qb).metadata;
}

/** The query runner a builder was given; absent, it takes one of its data source's when it runs. */
export function runnerOf(qb: WriteBuilder): QueryRunner | undefined {
  return (qb as unknown as { queryRunner?: QueryRunner }).queryRunner;
}

/**
 * Whether the statement is one of `save()`/`remove()`/`softRemove()`/`recover()` (TypeORM runs them with listeners
 * off, and calls the entity events itself), rather than a query-level write of the caller's.
 */
export function isPersistenceStatement(qb: WriteBuilder): boolean {
  return !qb.expressionMap.callListeners;
}

/**
 * Writes actionlog makes itself (stamps): never recorded, whatever runs around them. A mark under a registered
 * symbol, which the patched builders of whichever copy of actionlog patched them see.
 */
const OWN = Symbol.for('actionlog.typeorm.own-write');

export function markOwnWrite<T extends object>(qb: T): T {
  (qb as { [OWN]?: true })[OWN] = true;
  return qb;
}

export function isOwnWrite(qb: object): boolean {
  return (qb as { [OWN]?: true })[OWN] === true;
}

/** One entry standing for a query-level write over `maxDocumentsPerQuery` rows: the statement and the count. */
export function recordSummary(
  qb: WriteBuilder,
  action: ModelChange['action'],
  recorder: QueryWriteRecorder,
  runner: QueryRunner | undefined,
  matched: number,
): void {
  let filter: unknown;
  try {
    const [sql, parameters] = qb.getQueryAndParameters();
    filter = { sql, parameters };
  } catch {
    filter = null;
  }
  recorder.record(
    recorder.change(metadataOf(qb), {
      action,
      model_id: null,
      old_object: null,
      new_object: null,
      query: { filter, update: qb.expressionMap.valuesSet ?? null, matched },
      truncated: true,
    }),
    runner,
  );
}
