import { ActionLogConfigError } from 'actionlog';
import { STAMP_FIELD_NAMES, type StampFields, type WorkflowRequest, type WorkflowStep, workflowTransition } from 'actionlog/adapter-kit';
import type { EntityManager, EntityMetadata, ObjectLiteral } from 'typeorm';
import { isSqliteFamily, modelIdOf } from './entity-state.js';
import { isActionLogSubscriber } from './query-writes.js';
import { softRemoveWithStamps, updateStamps } from './stamps.js';
import type { ActionLogSubscriber } from './subscriber.js';

/*
 * The delete-request and approval workflows of entities extending AuditStamped (FORMAT §4), with the rules, errors
 * and recorded actions of the Mongoose ones (the kit's workflowTransition). Each step runs in a transaction: the
 * caller's when `manager` is a transaction's (a savepoint then), else one of its own. The row is read there, locked
 * where the database can, so the step is checked against its stored state; only the stamp columns are written,
 * and the model log and the action are recorded when the transaction commits, never when it rolls back.
 */

/** Asks `to` (a user, or anything `describeUser` understands) to approve deleting `entity`; recorded as `delete_requested`. */
export function requestDelete<T extends ObjectLiteral>(
  manager: EntityManager,
  entity: T,
  request: { to?: unknown; reason?: string } = {},
): Promise<T> {
  return takeStep(manager, entity, 'requestDelete', request);
}

/** Approves the pending delete request (only its addressee may): the row is soft-deleted (`SoftDeleted`, `delete_approved`). */
export function approveDelete<T extends ObjectLiteral>(manager: EntityManager, entity: T): Promise<T> {
  return takeStep(manager, entity, 'approveDelete');
}

/** Rejects the pending delete request (only its addressee may); the reason is the action's note. */
export function rejectDelete<T extends ObjectLiteral>(manager: EntityManager, entity: T, reason?: string): Promise<T> {
  return takeStep(manager, entity, 'rejectDelete', { reason });
}

/** Asks `to` to approve `entity`; recorded as `approval_requested`. */
export function requestApproval<T extends ObjectLiteral>(manager: EntityManager, entity: T, request: { to?: unknown } = {}): Promise<T> {
  return takeStep(manager, entity, 'requestApproval', request);
}

/** Approves the pending approval request (only its addressee may): `approved_*`, `is_approved`. */
export function approve<T extends ObjectLiteral>(manager: EntityManager, entity: T): Promise<T> {
  return takeStep(manager, entity, 'approve');
}

/** Rejects the pending approval request; the reason (required) is kept in `request_approval_rejected_reason`. */
export function rejectApproval<T extends ObjectLiteral>(manager: EntityManager, entity: T, reason: string): Promise<T> {
  return takeStep(manager, entity, 'rejectApproval', { reason });
}

/** Takes one step on the stored row of `entity`, then gives `entity` the row's stamps. */
async function takeStep<T extends ObjectLiteral>(
  manager: EntityManager,
  entity: T,
  step: WorkflowStep,
  request?: WorkflowRequest,
): Promise<T> {
  const metadata = manager.dataSource.getMetadata(entity.constructor);
  const subscriber = workflowSubscriber(manager, metadata);
  const stored = await manager.transaction(async (tx) => {
    const row = await lockedRow(tx, metadata, entity);
    const deleted = row && (Boolean(row.is_deleted) || metadata.deleteDateColumn?.getEntityValue(row) != null);
    const stamps = row && ({ ...row, is_deleted: deleted } as Partial<StampFields>);
    const id = modelIdOf(metadata, row ?? entity) ?? '(not saved)';
    const transition = workflowTransition(subscriber.logger, step, { model: metadata.name, id, stamps }, request);
    const target = row as ObjectLiteral;
    if (transition.change === 'SoftDeleted') {
      // Soft delete is TypeORM's (the delete-date column, set by the database); the stamps go with it, and as
      // a save would, the update stamps.
      const { deleted_date: _, ...given } = transition.values;
      updateStamps(given, target, subscriber.currentUser());
      await softRemoveWithStamps(tx, target, given);
    } else {
      Object.assign(target, transition.values);
      await tx.save(target);
    }
    if (transition.action) subscriber.recordAction(transition.action, tx.queryRunner);
    return target;
  });
  return Object.assign(entity, Object.fromEntries(STAMP_FIELD_NAMES.map((field) => [field, stored[field] as unknown])));
}

/** The stored row of `entity` (soft-deleted or not), locked for the transaction where the database can; null if none. */
async function lockedRow(tx: EntityManager, metadata: EntityMetadata, entity: ObjectLiteral): Promise<ObjectLiteral | null> {
  const id = metadata.getEntityIdMap(entity);
  if (!id) return null;
  const read = tx.createQueryBuilder(metadata.target, 'row').withDeleted().whereInIds(id);
  // SQLite has one writer at a time, and no row locks.
  if (!isSqliteFamily(tx.dataSource.options.type)) read.setLock('pessimistic_write');
  return read.getOne();
}

/** The data source's ActionLogSubscriber, which records the steps; a misconfiguration is refused, never silent. */
function workflowSubscriber(manager: EntityManager, metadata: EntityMetadata): ActionLogSubscriber {
  const subscriber = manager.dataSource.subscribers.find(isActionLogSubscriber) as ActionLogSubscriber | undefined;
  const problem = !subscriber
    ? { path: 'subscribers', message: 'has no ActionLogSubscriber: the workflow records its steps through it' }
    : !subscriber.records(metadata)
      ? { path: 'include/exclude', message: `leave out ${metadata.name}: its workflow steps would not be recorded` }
      : missingColumns(metadata);
  if (problem) throw new ActionLogConfigError([problem], `workflow of ${metadata.name}`);
  return subscriber as ActionLogSubscriber;
}

function missingColumns(metadata: EntityMetadata): { path: string; message: string } | null {
  const missing = STAMP_FIELD_NAMES.filter((field) => !metadata.findColumnWithPropertyName(field));
  return missing.length > 0 ? { path: metadata.name, message: `has no column ${missing.join(', ')} (extend AuditStamped)` } : null;
}
