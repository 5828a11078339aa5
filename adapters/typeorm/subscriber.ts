import { z } from 'zod';
import type { ActionInput, ActionLogger, UserRef } from 'actionlog';
import {
  adapterOptionsShape,
  type AdapterOptions,
  assertLogger,
  guard,
  type ModelChange,
  ModelSelection,
  parseOptions,
  type PendingAction,
  type PendingChange,
  recordPending,
  TransactionBuffer,
} from 'actionlog/adapter-kit';
import {
  type AfterQueryEvent,
  EventSubscriber,
  type EntityMetadata,
  type EntitySubscriberInterface,
  type InsertEvent,
  type ObjectLiteral,
  type QueryRunner,
  type RecoverEvent,
  type SoftRemoveEvent,
  type TransactionCommitEvent,
  type TransactionRollbackEvent,
  type TransactionStartEvent,
  type UpdateEvent,
} from 'typeorm';
import { commitRolledBack, noteCommitOutcome } from './commit-outcome.js';
import { namespaceOf } from './entity-state.js';
import { SUBSCRIBER } from './query-writes.js';
import { drained } from './runner-queue.js';
import { insertStamps, isStamped, softDeleteStampsOf, updateStamps } from './stamps.js';
import { isStoreEntity } from './store-entities.js';

/**
 * Options of `new ActionLogSubscriber(logger, options)`: `include`/`exclude` take entity classes or names, `omit`
 * property paths (for every entity, or per entity name).
 */
export interface ActionLogSubscriberOptions extends AdapterOptions {
  /**
   * How query-level update/delete/softDelete/restore learn the rows they change: `'auto'` (default) has
   * PostgreSQL 18+ return them from the statement itself; elsewhere, and with `'readBefore'`, they are read first.
   */
  queryWrites?: 'auto' | 'readBefore';
}

const schema = z.strictObject({
  ...adapterOptionsShape,
  queryWrites: z.enum(['auto', 'readBefore'], { error: 'must be "auto" or "readBefore"' }).default('auto'),
});

/**
 * Records every TypeORM write as a model log, from the rows as stored: `save`, `insert`, `remove`, `softRemove`,
 * `recover`, `upsert`, and query-level `update`/`delete`/`softDelete`/`restore`. Changes made in a transaction
 * are recorded when it commits and dropped when it (or their savepoint) rolls back. Push an instance onto
 * `dataSource.subscribers`, or put `ActionLogSubscriber.of(logger)` in the `subscribers` option.
 */
export class ActionLogSubscriber implements EntitySubscriberInterface {
  /** A subscriber class bound to `logger`, for the DataSource `subscribers` option (which takes classes). */
  static of(logger: ActionLogger, options: ActionLogSubscriberOptions = {}): new () => ActionLogSubscriber {
    const instance = new ActionLogSubscriber(logger, options);
    class BoundActionLogSubscriber extends ActionLogSubscriber {
      constructor() {
        super(instance.logger, options);
      }
    }
    EventSubscriber()(BoundActionLogSubscriber);
    return BoundActionLogSubscriber;
  }

  readonly [SUBSCRIBER] = true;
  /** @internal */ readonly maxDocumentsPerQuery: number;
  /** @internal */ readonly queryWrites: 'auto' | 'readBefore';
  private readonly selection: ModelSelection<EntityMetadata>;
  private readonly buffer = new TransactionBuffer<QueryRunner, PendingChange | PendingAction>();

  constructor(
    /** @internal */ readonly logger: ActionLogger,
    options: ActionLogSubscriberOptions = {},
  ) {
    assertLogger(logger, 'ActionLogSubscriber options');
    const o = parseOptions(schema, options, 'ActionLogSubscriber options');
    this.maxDocumentsPerQuery = o.maxDocumentsPerQuery;
    this.queryWrites = o.queryWrites;
    this.selection = new ModelSelection(o, logger);
  }

  /** @internal Whether writes to this entity are recorded. */
  records(metadata: EntityMetadata): boolean {
    return !isStoreEntity(metadata) && this.selection.records([metadata.name, metadata.targetName]);
  }

  /** @internal A model change of `metadata`, with this subscriber's omissions. */
  change(
    metadata: EntityMetadata,
    fields: Pick<ModelChange, 'action' | 'model_id' | 'old_object' | 'new_object'> & Partial<ModelChange>,
  ): ModelChange {
    const omit = this.selection.omitFor(metadata, metadata.name);
    const change: ModelChange = Object.assign(
      {
        model: metadata.tableName,
        model_class_name: metadata.name,
        model_namespace: namespaceOf(metadata),
        // When the write happened (a change held for its transaction's commit keeps it).
        timestamp: new Date(),
      },
      fields,
    );
    if (omit) change.omit = omit;
    return change;
  }

  /** @internal Records now, or when the runner's transaction commits. Never throws unless the logger is strict. */
  record(change: ModelChange, runner: QueryRunner | undefined): void {
    this.hold({ change, context: this.logger.current() ?? null }, runner);
  }

  /** @internal Records a workflow step's action now, or when the runner's transaction commits. */
  recordAction(action: ActionInput, runner: QueryRunner | undefined): void {
    this.hold({ action, context: this.logger.current() ?? null }, runner);
  }

  /** @internal */
  report(error: unknown): void {
    this.logger.reportError(error);
  }

  /** @internal The current user as stored in stamps, or null. */
  currentUser(): UserRef | null {
    return this.logger.current()?.user ?? null;
  }

  beforeInsert(event: InsertEvent<ObjectLiteral>): void {
    const entity = entityOf(event);
    if (!entity || !isStamped(event.metadata) || !this.records(event.metadata)) return;
    this.guard(() => {
      insertStamps(entity, this.currentUser());
    });
  }

  beforeUpdate(event: UpdateEvent<ObjectLiteral>): void {
    // Query-level updates (no database entity) get their stamps in the query hook.
    const entity = entityOf(event);
    const databaseEntity = databaseEntityOf(event);
    if (!entity || !databaseEntity || !isStamped(event.metadata) || !this.records(event.metadata)) return;
    this.guard(() => {
      updateStamps(entity, databaseEntity, this.currentUser());
    });
  }

  // Soft delete and restore write their stamps with the statement (see where-writes.ts): the entity gets them too.
  afterSoftRemove(event: SoftRemoveEvent<ObjectLiteral>): void {
    this.stampEntity(event, true);
  }

  afterRecover(event: RecoverEvent<ObjectLiteral>): void {
    this.stampEntity(event, false);
  }

  afterQuery(event: AfterQueryEvent): void {
    noteCommitOutcome(event);
  }

  beforeTransactionStart(event: TransactionStartEvent): void {
    // A transaction that ended without a commit or rollback event (its COMMIT and ROLLBACK both failed) leaves
    // nothing behind for the next one.
    if (depthOf(event.queryRunner) === 0) this.buffer.rolledBack(event.queryRunner, 0);
  }

  // The statements of a save still queued for capture run inside the transaction, as they would without actionlog.
  beforeTransactionCommit(event: TransactionCommitEvent): Promise<void> | undefined {
    const queued = drained(event.queryRunner);
    if (this.logger.failurePolicy !== 'throw' || depthOf(event.queryRunner) !== 1) return queued;
    return this.storeBeforeCommit(event.queryRunner, queued);
  }

  beforeTransactionRollback(event: TransactionRollbackEvent): Promise<void> | undefined {
    return drained(event.queryRunner);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const depth = depthOf(event.queryRunner);
    if (depth === 0 && commitRolledBack(event.queryRunner)) {
      this.buffer.rolledBack(event.queryRunner, 0);
      return;
    }
    for (const pending of this.buffer.committed(event.queryRunner, depth)) recordPending(this.logger, pending);
  }

  /**
   * Failure policy 'throw': the transaction's changes are stored before its COMMIT. A failed write fails the
   * commit, and TypeORM's `transaction()` rolls back; stored, they are not recorded again after the commit.
   */
  private async storeBeforeCommit(runner: QueryRunner, queued: Promise<void> | undefined): Promise<void> {
    await queued;
    const held = this.buffer.held(runner);
    if (held.length === 0) return;
    await this.logger.storeChanges(held);
    this.buffer.rolledBack(runner, 0);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.buffer.rolledBack(event.queryRunner, depthOf(event.queryRunner));
  }

  private stampEntity(event: SoftRemoveEvent<ObjectLiteral> | RecoverEvent<ObjectLiteral>, deleted: boolean): void {
    const entity = entityOf(event);
    if (!entity || !isStamped(event.metadata) || !this.records(event.metadata)) return;
    this.guard(() => {
      Object.assign(entity, softDeleteStampsOf(event.metadata, entity, deleted, this.currentUser()));
    });
  }

  private hold(pending: PendingChange | PendingAction, runner: QueryRunner | undefined): void {
    if (runner?.isTransactionActive) {
      this.guard(() => {
        this.buffer.add(runner, Math.max(1, depthOf(runner)), pending);
      });
    } else recordPending(this.logger, pending);
  }

  /** @internal Runs capture work: an error is reported, and thrown into the application only in strict mode. */
  guard(work: () => void): void {
    guard(this.logger, work);
  }
}

/** An event's entity: absent for removals by id, whatever TypeORM's types say. */
function entityOf(event: { entity?: ObjectLiteral }): ObjectLiteral | undefined {
  return event.entity;
}

/** The row as loaded before the write: absent for query-level writes, whatever TypeORM's types say. */
function databaseEntityOf(event: { databaseEntity?: ObjectLiteral }): ObjectLiteral | undefined {
  return event.databaseEntity;
}

/** TypeORM keeps the nesting level (0 = no transaction, 2+ = inside savepoints) as a protected field. */
function depthOf(runner: QueryRunner): number {
  return (runner as unknown as { transactionDepth?: number }).transactionDepth ?? (runner.isTransactionActive ? 1 : 0);
}
