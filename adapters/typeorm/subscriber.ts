import { z } from 'zod';
import { type ActionLogger, ActionLogConfigError, type ModelChange, type RequestContext, type UserRef } from 'actionlog';
import {
  EventSubscriber,
  type EntityMetadata,
  type EntitySubscriberInterface,
  type InsertEvent,
  type ObjectLiteral,
  type QueryRunner,
  type RecoverEvent,
  type RemoveEvent,
  type SoftRemoveEvent,
  type TransactionCommitEvent,
  type TransactionRollbackEvent,
  type UpdateEvent,
} from 'typeorm';
import { idMapOf, modelIdOf, namespaceOf, overlayState, plainState } from './entity-state.js';
import { handledByQueryHook, installQueryWriteHooks, SUBSCRIBER } from './query-writes.js';
import { insertStamps, isStamped, softDeleteStamps, updateStamps } from './stamps.js';
import { isStoreEntity } from './store-entities.js';
import { TransactionBuffer } from './transaction-buffer.js';

/** Options of `new ActionLogSubscriber(logger, options)`. */
export interface ActionLogSubscriberOptions {
  /** Only these entities (class names or classes). Default: all. */
  include?: Array<string | Function>;
  /** Never these entities. */
  exclude?: Array<string | Function>;
  /** Property paths left out of old and new objects: for every entity, or per entity class name. */
  omit?: string[] | Record<string, string[]>;
  /** A query-level write touching more rows records one summary entry instead. Default 1000. */
  maxDocumentsPerQuery?: number;
  /**
   * How query-level update/delete/softDelete/restore learn the rows they change: `'auto'` (default) has
   * PostgreSQL 18+ return them from the statement itself; elsewhere, and with `'readBefore'`, they are read first.
   */
  queryWrites?: 'auto' | 'readBefore';
}

const entityRef = z.union([z.string().min(1), z.custom<Function>((v) => typeof v === 'function')], { error: 'must be an entity class or name' });
const schema = z.strictObject({
  include: z.array(entityRef).optional(),
  exclude: z.array(entityRef).optional(),
  omit: z.union([z.array(z.string()), z.record(z.string(), z.array(z.string()))], { error: 'must be a list of paths, or lists per entity' }).optional(),
  maxDocumentsPerQuery: z.number().int().min(1).default(1000),
  queryWrites: z.enum(['auto', 'readBefore']).default('auto'),
});

const nameOf = (ref: string | Function) => (typeof ref === 'string' ? ref : ref.name);

/**
 * Records every TypeORM write as a model log: `save`, `insert`, `remove`, `softRemove`, `recover`, `upsert`,
 * and query-level `update`/`delete`/`softDelete`/`restore`. Changes made in a transaction are recorded when it
 * commits and dropped when it (or their savepoint) rolls back. Push an instance onto `dataSource.subscribers`,
 * or put `ActionLogSubscriber.of(logger)` in the `subscribers` option.
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
  private readonly include: Set<string> | undefined;
  private readonly exclude: Set<string>;
  private readonly omitAll: string[];
  private readonly omitByEntity: Record<string, string[]>;
  private readonly buffer = new TransactionBuffer();
  private readonly omits = new WeakMap<EntityMetadata, string[]>();

  constructor(
    /** @internal */ readonly logger: ActionLogger,
    options: ActionLogSubscriberOptions = {},
  ) {
    if (!logger || typeof (logger as Partial<ActionLogger>).recordModelChange !== 'function') {
      throw new ActionLogConfigError([{ path: 'logger', message: 'must be an ActionLogger (createActionLogger)' }], 'ActionLogSubscriber options');
    }
    const parsed = schema.safeParse(options ?? {});
    if (!parsed.success) {
      throw new ActionLogConfigError(
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        'ActionLogSubscriber options',
      );
    }
    const o = parsed.data;
    this.maxDocumentsPerQuery = o.maxDocumentsPerQuery;
    this.queryWrites = o.queryWrites;
    this.include = o.include ? new Set(o.include.map(nameOf)) : undefined;
    this.exclude = new Set((o.exclude ?? []).map(nameOf));
    this.omitAll = Array.isArray(o.omit) ? o.omit : [];
    this.omitByEntity = o.omit && !Array.isArray(o.omit) ? o.omit : {};
    installQueryWriteHooks();
  }

  /** @internal Whether writes to this entity are recorded. */
  audits(metadata: EntityMetadata): boolean {
    if (isStoreEntity(metadata)) return false;
    const names = [metadata.name, metadata.targetName];
    if (this.include && !names.some((n) => this.include!.has(n))) return false;
    return !names.some((n) => this.exclude.has(n));
  }

  /** @internal A model change of `metadata`, with this subscriber's omissions. */
  change(metadata: EntityMetadata, fields: Pick<ModelChange, 'action' | 'model_id' | 'old_object' | 'new_object'> & Partial<ModelChange>): ModelChange {
    let omit = this.omits.get(metadata);
    if (!omit) {
      omit = [...this.omitAll, ...(this.omitByEntity[metadata.name] ?? [])];
      this.omits.set(metadata, omit);
    }
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
    if (omit.length) change.omit = omit;
    return change;
  }

  /** @internal Records now, or when the runner's transaction commits. Never throws unless the logger is strict. */
  record(change: ModelChange, runner: QueryRunner | undefined): void {
    try {
      const context: RequestContext | null = this.logger.current() ?? null;
      if (runner?.isTransactionActive) this.buffer.add(runner, { change, context });
      else this.logger.recordModelChange(change, context);
    } catch (error) {
      this.logger.reportError(error);
    }
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
    if (!event.entity || !isStamped(event.metadata) || !this.audits(event.metadata)) return;
    this.guard(() => insertStamps(event.entity, this.currentUser()));
  }

  beforeUpdate(event: UpdateEvent<ObjectLiteral>): void {
    // Query-level updates (no database entity) get their stamps in the query hook.
    if (!event.entity || !event.databaseEntity || !isStamped(event.metadata) || !this.audits(event.metadata)) return;
    this.guard(() => updateStamps(event.entity!, event.databaseEntity, this.currentUser()));
  }

  afterInsert(event: InsertEvent<ObjectLiteral>): void {
    if (!this.audits(event.metadata) || handledByQueryHook(event.entity)) return;
    this.guard(() => {
      const state = plainState(event.metadata, event.entity);
      this.record(
        this.change(event.metadata, { action: 'Created', model_id: modelIdOf(event.metadata, event.entityId, event.entity), old_object: null, new_object: state }),
        event.queryRunner,
      );
    });
  }

  afterUpdate(event: UpdateEvent<ObjectLiteral>): void {
    // Query-level updates carry no database entity: the query hook records them.
    if (!event.databaseEntity || !this.audits(event.metadata) || handledByQueryHook(event.entity)) return;
    this.guard(() => {
      const before = plainState(event.metadata, event.databaseEntity);
      const after = overlayState(event.metadata, before, event.entity);
      this.record(
        this.change(event.metadata, { action: 'Updated', model_id: modelIdOf(event.metadata, event.databaseEntity, event.entity), old_object: before, new_object: after }),
        event.queryRunner,
      );
    });
  }

  afterRemove(event: RemoveEvent<ObjectLiteral>): void {
    // By now TypeORM has stripped the primary key from `event.entity`: the id comes from entityId / databaseEntity.
    if (!event.databaseEntity || !this.audits(event.metadata)) return;
    this.guard(() => {
      this.record(
        this.change(event.metadata, {
          action: 'Deleted',
          model_id: modelIdOf(event.metadata, event.entityId, event.databaseEntity),
          old_object: plainState(event.metadata, event.databaseEntity),
          new_object: null,
        }),
        event.queryRunner,
      );
    });
  }

  afterSoftRemove(event: SoftRemoveEvent<ObjectLiteral>): Promise<void> {
    return this.softChange('SoftDeleted', event);
  }

  afterRecover(event: RecoverEvent<ObjectLiteral>): Promise<void> {
    return this.softChange('Restored', event);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    for (const pending of this.buffer.committed(event.queryRunner)) {
      try {
        this.logger.recordModelChange(pending.change, pending.context);
      } catch (error) {
        this.logger.reportError(error);
      }
    }
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.buffer.rolledBack(event.queryRunner);
  }

  private async softChange(action: 'SoftDeleted' | 'Restored', event: SoftRemoveEvent<ObjectLiteral> | RecoverEvent<ObjectLiteral>): Promise<void> {
    if (!event.databaseEntity || !this.audits(event.metadata)) return;
    try {
      const before = plainState(event.metadata, event.databaseEntity);
      const after = overlayState(event.metadata, before, event.entity);
      if (isStamped(event.metadata)) {
        const id = idMapOf(event.metadata, event.databaseEntity);
        const stamps = await softDeleteStamps(event.queryRunner, event.metadata, id ? [id] : [], action === 'SoftDeleted', this.currentUser(), event.entity);
        Object.assign(after, stamps);
        if (event.entity) Object.assign(event.entity, stamps);
      }
      this.record(
        this.change(event.metadata, {
          action,
          model_id: modelIdOf(event.metadata, event.entityId as ObjectLiteral | undefined, event.databaseEntity),
          old_object: before,
          new_object: after,
        }),
        event.queryRunner,
      );
    } catch (error) {
      this.logger.reportError(error);
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.reportError(error);
    }
  }
}
