import type { ActionLogger, UserRef } from 'actionlog';
import { REQUEST_STATUSES, STAMP_FIELDS, type StampField, type StampFields, type StampKind } from 'actionlog/adapter-kit';
import { type Document, Schema } from 'mongoose';
import type { AnyQuery } from './mongoose-types.js';
import type { Raw } from './mongoose-types.js';

/** Each kind of stamp field as a schema path. */
const SCHEMA_TYPES = {
  user: { type: Schema.Types.Mixed, default: null },
  date: { type: Date, default: null },
  count: { type: Number, default: 0 },
  flag: { type: Boolean, default: false },
  text: { type: String, default: null },
  status: { type: String, enum: [...REQUEST_STATUSES, null], default: null },
} satisfies Record<StampKind, object>;

/** The stamp fields. */
export const STAMP_PATHS = Object.fromEntries(Object.entries(STAMP_FIELDS).map(([field, kind]) => [field, SCHEMA_TYPES[kind]])) as {
  [F in StampField]: (typeof SCHEMA_TYPES)[(typeof STAMP_FIELDS)[F]];
};

// `updated_count` is absent on documents stored before stamps were turned on.
type Stamped = Document & Omit<StampFields, 'updated_count'> & { updated_count?: number };

/** Adds the stamp fields, filled from the current user on every save and query-level update. */
export function addStampFields(schema: Schema, logger: ActionLogger): void {
  schema.add(STAMP_PATHS);
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
