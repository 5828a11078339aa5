import type { Aggregate, Schema } from 'mongoose';
import type { AnyQuery } from './mongoose-types.js';

const READS = ['find', 'findOne', 'countDocuments', 'distinct', 'findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete'] as const;

/** Soft-deleted documents stay out of reads (queries and aggregations) unless a query asks `withDeleted()`. */
export function hideSoftDeleted(schema: Schema): void {
  (schema.query as Record<string, unknown>).withDeleted = function (this: AnyQuery) {
    return this.setOptions({ withDeleted: true });
  } as never;
  for (const op of READS) {
    schema.pre(op, { document: false, query: true }, function (this: AnyQuery) {
      if ((this.getOptions() as { withDeleted?: boolean }).withDeleted || 'is_deleted' in this.getFilter()) return;
      this.where({ is_deleted: { $ne: true } });
    });
  }
  schema.pre('aggregate', function (this: Aggregate<unknown>) {
    if ((this.options as { withDeleted?: boolean }).withDeleted) return;
    this.pipeline().unshift({ $match: { is_deleted: { $ne: true } } });
  });
}
