import type { UserRef } from '../shared/document.js';

/** The states of a delete or approval request. */
export const REQUEST_STATUSES = ['pending', 'approved', 'rejected'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** What a stamp field holds; each ORM maps a kind to its own column or schema type. */
export type StampKind = 'user' | 'date' | 'count' | 'flag' | 'text' | 'status';

/** The inline stamp fields (FORMAT §4), in order, with what each holds. Every adapter declares exactly these. */
export const STAMP_FIELDS = {
  created_by: 'user',
  created_date: 'date',
  updated_by: 'user',
  updated_date: 'date',
  updated_count: 'count',
  is_updated: 'flag',
  deleted_by: 'user',
  deleted_date: 'date',
  deleted_reason: 'text',
  is_deleted: 'flag',
  request_delete_by: 'user',
  request_delete_to: 'user',
  request_delete_date: 'date',
  request_delete_reason: 'text',
  request_delete_status: 'status',
  request_approval_by: 'user',
  request_approval_to: 'user',
  request_approval_date: 'date',
  request_approval_status: 'status',
  request_approval_rejected_reason: 'text',
  approved_by: 'user',
  approved_date: 'date',
  is_approved: 'flag',
} as const satisfies Record<string, StampKind>;

export type StampField = keyof typeof STAMP_FIELDS;

/** The value each kind holds (`*_by`/`*_to`: the user reference of the current context). */
export interface StampValues {
  user: UserRef | null;
  date: Date | null;
  count: number;
  flag: boolean;
  text: string | null;
  status: RequestStatus | null;
}

/** A stamped record's fields, as the stamps read and write them. */
export type StampFields = { [F in StampField]: StampValues[(typeof STAMP_FIELDS)[F]] };

/** The stamp fields, in order. */
export const STAMP_FIELD_NAMES = Object.keys(STAMP_FIELDS) as StampField[];
