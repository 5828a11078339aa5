import type { ActionLogger, UserRef } from 'actionlog';
import { type Document, Schema } from 'mongoose';
import type { AnyQuery } from './mongoose-types.js';
import type { Raw } from './mongoose-types.js';

const userRef = { type: Schema.Types.Mixed, default: null };
const status = (values: string[]) => ({ type: String, enum: [...values, null], default: null });

/** The stamp fields. */
export const STAMP_FIELDS = {
  created_by: userRef,
  created_date: { type: Date, default: null },
  updated_by: userRef,
  updated_date: { type: Date, default: null },
  updated_count: { type: Number, default: 0 },
  is_updated: { type: Boolean, default: false },
  deleted_by: userRef,
  deleted_date: { type: Date, default: null },
  deleted_reason: { type: String, default: null },
  is_deleted: { type: Boolean, default: false },
  request_delete_by: userRef,
  request_delete_to: userRef,
  request_delete_date: { type: Date, default: null },
  request_delete_reason: { type: String, default: null },
  request_delete_status: status(['pending', 'approved', 'rejected']),
  request_approval_by: userRef,
  request_approval_to: userRef,
  request_approval_date: { type: Date, default: null },
  request_approval_status: status(['pending', 'approved', 'rejected']),
  request_approval_rejected_reason: { type: String, default: null },
  approved_by: userRef,
  approved_date: { type: Date, default: null },
  is_approved: { type: Boolean, default: false },
};

/** A stamped document's fields, as the stamps read and write them. */
export interface StampFields {
  created_by: UserRef | null;
  created_date: Date | null;
  updated_by: UserRef | null;
  updated_date: Date | null;
  /** Absent on documents stored before stamps were turned on. */
  updated_count?: number;
  is_updated: boolean;
  deleted_by: UserRef | null;
  deleted_date: Date | null;
  deleted_reason: string | null;
  is_deleted: boolean;
  request_delete_by: UserRef | null;
  request_delete_to: UserRef | null;
  request_delete_date: Date | null;
  request_delete_reason: string | null;
  request_delete_status: 'pending' | 'approved' | 'rejected' | null;
  request_approval_by: UserRef | null;
  request_approval_to: UserRef | null;
  request_approval_date: Date | null;
  request_approval_status: 'pending' | 'approved' | 'rejected' | null;
  request_approval_rejected_reason: string | null;
  approved_by: UserRef | null;
  approved_date: Date | null;
  is_approved: boolean;
}

type Stamped = Document & StampFields;

/** Adds the stamp fields, filled from the current user on every save and query-level update. */
export function addStampFields(schema: Schema, logger: ActionLogger): void {
  schema.add(STAMP_FIELDS);
  const user = (): UserRef | null => logger.current()?.user ?? null;

  schema.pre('save', function (this: Stamped) {
    const now = new Date();
    if (this.isNew) {
      this.created_by ??= user();
      this.created_date ??= now;
    } else if (this.isModified()) {
      this.updated_by = user();
      this.updated_date = now;
      this.updated_count = (this.updated_count ?? 0) + 1;
      this.is_updated = true;
    }
  });

  for (const op of ['updateOne', 'updateMany', 'findOneAndUpdate'] as const) {
    schema.pre(op, { document: false, query: true }, function (this: AnyQuery) {
      const update = (this.getUpdate() ?? {}) as Raw;
      if (Array.isArray(update)) return;
      const now = new Date();
      update.$set = Object.assign({}, update.$set, { updated_by: user(), updated_date: now, is_updated: true });
      update.$inc = Object.assign({}, update.$inc, { updated_count: 1 });
      if (this.getOptions().upsert) update.$setOnInsert = Object.assign({}, update.$setOnInsert, { created_by: user(), created_date: now });
      this.setUpdate(update);
    });
  }
}
