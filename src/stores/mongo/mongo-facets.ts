import type { EntryKind, FacetCount, FacetField } from '../store.js';
import { REQUEST_USER_PATHS } from './mongo-filter.js';
import type { MongoDocument } from './mongo-types.js';

/**
 * Where a facet's value sits in an entry of a kind (an aggregation expression). A user's id keeps its type (a
 * number, an ObjectId): its text is the value, as the `actor_id` filter matches it, so 42 and '42' count as one.
 */
function valueOf(kind: EntryKind, field: FacetField): unknown {
  if (field !== 'actor_id') return `$${field}`;
  switch (kind) {
    case 'requests':
      return { $toString: { $ifNull: REQUEST_USER_PATHS.map((path) => `$${path}`) } };
    case 'actions':
      return '$actor_id';
    default:
      return { $toString: '$user._id' };
  }
}

/**
 * Distinct values of a field among the entries `match` selects, most frequent first then by value, past `after`:
 * an entry counts once per value (an action tagged twice `vip` is one `vip`); entries without the field, none.
 */
export function facetPipeline(
  kind: EntryKind,
  field: FacetField,
  match: MongoDocument,
  limit: number,
  after?: FacetCount,
): MongoDocument[] {
  const count =
    field === 'tag_type'
      ? [
          { $unwind: '$tags' },
          { $group: { _id: { entry: '$_id', value: '$tags.type' } } },
          { $group: { _id: '$_id.value', count: { $sum: 1 } } },
        ]
      : [{ $group: { _id: valueOf(kind, field), count: { $sum: 1 } } }];
  const pipeline: MongoDocument[] = [{ $match: match }, ...count, { $match: { _id: { $ne: null } } }, { $sort: { count: -1, _id: 1 } }];
  if (after) pipeline.push({ $match: { $or: [{ count: { $lt: after.count } }, { count: after.count, _id: { $gt: after.value } }] } });
  pipeline.push({ $limit: limit });
  return pipeline;
}

export function facetCounts(groups: MongoDocument[]): FacetCount[] {
  return groups.map((group) => ({ value: String(group._id), count: Number(group.count) }));
}
