import type { UserRef } from 'actionlog';
import { STAMP_FIELD_NAMES, STAMP_FIELDS, type StampField, type StampFields, type StampKind } from 'actionlog/adapter-kit';
import {
  Column,
  type ColumnOptions,
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

/** Each kind of stamp field as a column. */
const COLUMNS: Readonly<Record<StampKind, ColumnOptions>> = {
  user: { type: 'simple-json', nullable: true },
  date: { type: Date, nullable: true },
  count: { type: 'integer', default: 0 },
  flag: { type: 'boolean', default: false },
  text: { type: 'varchar', length: 1000, nullable: true },
  status: { type: 'varchar', length: 16, nullable: true },
};

// TypeORM's own date columns: set on insert, on every update, and by soft delete (which hides the row).
const OWN_DATE_COLUMNS: Partial<Record<StampField, PropertyDecorator>> = {
  created_date: CreateDateColumn(),
  updated_date: UpdateDateColumn(),
  deleted_date: DeleteDateColumn({ nullable: true }),
};

// eslint-disable-next-line @typescript-eslint/no-extraneous-class -- its columns are added from the kit's list below
abstract class StampColumns {}
for (const field of STAMP_FIELD_NAMES) {
  const column = OWN_DATE_COLUMNS[field] ?? Column(COLUMNS[STAMP_FIELDS[field]]);
  column(StampColumns.prototype, field);
}

/**
 * Inline stamps for your own entities: extend it, and ActionLogSubscriber fills the `*_by` fields from the
 * current user; the delete-request and approval workflows (workflow.ts) fill the others. Soft delete goes through
 * TypeORM's delete-date column (`deleted_date`), so soft-deleted rows stay hidden from queries unless asked for
 * (`withDeleted`).
 */
// The columns are declared from the kit's list of stamp fields, which names them once for every ORM.
export const AuditStamped = StampColumns as abstract new () => StampFields;
export type AuditStamped = StampFields;

/** Whether an entity carries the stamps (extends AuditStamped, or declares the same columns). */
export function isStamped(metadata: EntityMetadata): boolean {
  return ['created_by', 'updated_by', 'updated_count', 'deleted_by', 'is_deleted'].every(
    (p) => metadata.findColumnWithPropertyName(p) !== undefined,
  );
}

// The stamps each soft delete under way through softRemoveWithStamps adds (a reason, an approved delete request),
// by entity and primary key: on the entity's metadata under a registered symbol, so that the copy of actionlog
// that patched TypeORM (ESM or CJS) reads what the application's copy set.
const EXTRA_STAMPS = Symbol.for('actionlog.typeorm.extra-stamps');
type WithExtraStamps = EntityMetadata & { [EXTRA_STAMPS]?: Map<string, ObjectLiteral> };

/** Soft-deletes an entity (TypeORM `softRemove`) with a reason, stored in `deleted_reason`. */
export function softRemoveWithReason<T extends ObjectLiteral>(manager: EntityManager, entity: T, reason: string): Promise<T> {
  return softRemoveWithStamps(manager, entity, { deleted_reason: reason || null });
}

/** Soft-deletes an entity (TypeORM `softRemove`), writing these stamps with who did it, in the same statement's wake. */
export async function softRemoveWithStamps<T extends ObjectLiteral>(manager: EntityManager, entity: T, stamps: ObjectLiteral): Promise<T> {
  const metadata: WithExtraStamps = manager.dataSource.getMetadata(entity.constructor);
  const id = modelIdOf(metadata, entity);
  let pending = metadata[EXTRA_STAMPS];
  if (id !== null) {
    if (!pending) metadata[EXTRA_STAMPS] = pending = new Map<string, ObjectLiteral>();
    pending.set(id, stamps);
  }
  try {
    return await manager.softRemove(entity);
  } finally {
    if (id !== null) pending?.delete(id);
  }
}

/** The stamps given for soft-deleting this row, if softRemoveWithStamps is deleting it. */
function extraStampsFor(metadata: EntityMetadata, id: ObjectLiteral): ObjectLiteral | undefined {
  const key = modelIdOf(metadata, id);
  return key === null ? undefined : (metadata as WithExtraStamps)[EXTRA_STAMPS]?.get(key);
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

/** The stamps a soft delete (who, and those given: why...) or a restore (cleared) writes. */
export function softDeleteStampValues(deleted: boolean, user: UserRef | null, given: ObjectLiteral | undefined): ObjectLiteral {
  return deleted
    ? { deleted_by: user, is_deleted: true, deleted_reason: null, ...given }
    : { deleted_by: null, is_deleted: false, deleted_reason: null };
}

/** The stamps a soft delete or restore of this entity writes (with those softRemoveWithStamps gave). */
export function softDeleteStampsOf(metadata: EntityMetadata, entity: ObjectLiteral, deleted: boolean, user: UserRef | null): ObjectLiteral {
  return softDeleteStampValues(deleted, user, deleted ? extraStampsFor(metadata, entity) : undefined);
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
  const byStamps = new Map<ObjectLiteral | undefined, ObjectLiteral[]>();
  for (const id of ids) {
    const given = deleted ? extraStampsFor(metadata, id) : undefined;
    byStamps.set(given, [...(byStamps.get(given) ?? []), id]);
  }
  const manager = runner?.manager ?? metadata.dataSource.manager;
  for (const [given, group] of byStamps) {
    const write = manager
      .createQueryBuilder()
      .update(metadata.target)
      .set(softDeleteStampValues(deleted, user, given))
      .whereInIds(group)
      .callListeners(false)
      .updateEntity(false);
    await markOwnWrite(write).execute();
  }
}
