import type { UserRef } from 'actionlog';
import {
  Column,
  CreateDateColumn,
  DeleteDateColumn,
  type EntityManager,
  type EntityMetadata,
  type ObjectLiteral,
  type QueryRunner,
  UpdateDateColumn,
} from 'typeorm';
import { modelIdOf } from './entity-state.js';
import { markOwnWrite } from './write-builder.js';

/**
 * Inline stamps for your own entities: extend it, and ActionLogSubscriber fills the `*_by`
 * fields from the current user. Soft delete goes through TypeORM's delete-date column (`deleted_date`), so
 * soft-deleted rows stay hidden from queries unless asked for (`withDeleted`).
 */
export abstract class AuditStamped {
  @Column({ type: 'simple-json', nullable: true })
  created_by?: UserRef | null;

  @CreateDateColumn()
  created_date!: Date;

  @Column({ type: 'simple-json', nullable: true })
  updated_by?: UserRef | null;

  @UpdateDateColumn()
  updated_date!: Date;

  @Column({ type: 'integer', default: 0 })
  updated_count!: number;

  @Column({ type: 'boolean', default: false })
  is_updated!: boolean;

  @Column({ type: 'simple-json', nullable: true })
  deleted_by?: UserRef | null;

  @DeleteDateColumn({ nullable: true })
  deleted_date?: Date | null;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  deleted_reason?: string | null;

  @Column({ type: 'boolean', default: false })
  is_deleted!: boolean;
}

/** Whether an entity carries the stamps (extends AuditStamped, or declares the same columns). */
export function isStamped(metadata: EntityMetadata): boolean {
  return ['created_by', 'updated_by', 'updated_count', 'deleted_by', 'is_deleted'].every(
    (p) => metadata.findColumnWithPropertyName(p) !== undefined,
  );
}

// The reason of each soft delete under way through softRemoveWithReason, by entity and primary key.
const reasons = new WeakMap<EntityMetadata, Map<string, string>>();

/** Soft-deletes an entity (TypeORM `softRemove`) with a reason, stored in `deleted_reason`. */
export async function softRemoveWithReason<T extends ObjectLiteral>(manager: EntityManager, entity: T, reason: string): Promise<T> {
  const metadata = manager.dataSource.getMetadata(entity.constructor);
  const id = modelIdOf(metadata, entity);
  let pending = reasons.get(metadata);
  if (id !== null) {
    if (!pending) reasons.set(metadata, (pending = new Map<string, string>()));
    pending.set(id, reason);
  }
  try {
    return await manager.softRemove(entity);
  } finally {
    if (id !== null) pending?.delete(id);
  }
}

/** The reason given for soft-deleting this row, if softRemoveWithReason is deleting it. */
function reasonFor(metadata: EntityMetadata, id: ObjectLiteral): string | null {
  const key = modelIdOf(metadata, id);
  return (key !== null && reasons.get(metadata)?.get(key)) || null;
}

/** The stamps a new row gets. */
export function insertStamps(entity: ObjectLiteral, user: UserRef | null): void {
  if (entity.created_by === undefined || entity.created_by === null) entity.created_by = user;
}

/** The stamps a `save()` of a loaded row gets: counted from the row as it was. */
export function updateStamps(entity: ObjectLiteral, before: ObjectLiteral | undefined, user: UserRef | null): void {
  entity.updated_by = user;
  entity.updated_count = Number(before?.updated_count ?? entity.updated_count ?? 0) + 1;
  entity.is_updated = true;
}

/** The stamps a query-level update adds to its SET clause; the count is raised by the database itself. */
export function queryUpdateStamps(values: ObjectLiteral, escape: (name: string) => string, user: UserRef | null): void {
  values.updated_by = user;
  values.is_updated = true;
  values.updated_count = () => `${escape('updated_count')} + 1`;
}

/** The stamps a soft delete (who, why) or a restore (cleared) writes. */
export function softDeleteStampValues(deleted: boolean, user: UserRef | null, reason: string | null): ObjectLiteral {
  return deleted
    ? { deleted_by: user, is_deleted: true, deleted_reason: reason }
    : { deleted_by: null, is_deleted: false, deleted_reason: null };
}

/** The stamps a soft delete or restore of this entity writes (its reason, when softRemoveWithReason gave one). */
export function softDeleteStampsOf(metadata: EntityMetadata, entity: ObjectLiteral, deleted: boolean, user: UserRef | null): ObjectLiteral {
  return softDeleteStampValues(deleted, user, deleted ? reasonFor(metadata, entity) : null);
}

/**
 * After a soft delete or restore of the rows with these primary keys: who did it and why, written on the same
 * query runner (inside the caller's transaction), since TypeORM's soft delete only sets the delete-date column.
 */
export async function softDeleteStamps(
  runner: QueryRunner | undefined,
  metadata: EntityMetadata,
  ids: ObjectLiteral[],
  deleted: boolean,
  user: UserRef | null,
): Promise<void> {
  const byReason = new Map<string | null, ObjectLiteral[]>();
  for (const id of ids) {
    const reason = deleted ? reasonFor(metadata, id) : null;
    byReason.set(reason, [...(byReason.get(reason) ?? []), id]);
  }
  const manager = runner?.manager ?? metadata.dataSource.manager;
  for (const [reason, group] of byReason) {
    const write = manager
      .createQueryBuilder()
      .update(metadata.target)
      .set(softDeleteStampValues(deleted, user, reason))
      .whereInIds(group)
      .callListeners(false)
      .updateEntity(false);
    await markOwnWrite(write).execute();
  }
}
