import type { ActionInput, ActionLogger } from 'actionlog';
import type { ModelChange } from '../capture/model-change.js';
import { type UserRef, userIdText } from '../shared/document.js';
import { ActionLogValidationError, ActionLogWorkflowError } from '../shared/errors.js';
import type { StampFields } from './stamp-fields.js';

/** The steps of soft delete and of the delete-request and approval workflows (FORMAT §4). */
export type WorkflowStep =
  'softDelete' | 'restore' | 'requestDelete' | 'approveDelete' | 'rejectDelete' | 'requestApproval' | 'approve' | 'rejectApproval';

/** The record a step is taken on. */
export interface WorkflowRecord {
  /** Its model's name (Mongoose model, TypeORM entity class): named by refusals, snake-cased as the action's target type. */
  model: string;
  id: string;
  /** Its stamps as they are before the step; null when it is not stored (refused). */
  stamps: Readonly<Partial<StampFields>> | null;
}

/** What the caller gave the step: the addressee of a request (anything `describeUser` understands), a reason. */
export interface WorkflowRequest {
  to?: unknown;
  reason?: unknown;
}

/** A step the rules allow: the stamps it writes, how the write is recorded, and the action recorded with it. */
export interface WorkflowTransition {
  values: Partial<StampFields>;
  change: Extract<ModelChange['action'], 'Updated' | 'SoftDeleted' | 'Restored'>;
  action: ActionInput | null;
}

/** The words refusals use for each step: `Invoice 42: cannot approve deletion: no delete request is pending`. */
const WHAT: Readonly<Record<WorkflowStep, string>> = {
  softDelete: 'soft-delete',
  restore: 'restore',
  requestDelete: 'request deletion',
  approveDelete: 'approve deletion',
  rejectDelete: 'reject deletion',
  requestApproval: 'request approval',
  approve: 'approve',
  rejectApproval: 'reject approval',
};

/** One step being taken: the record's stamps, and the checks the rules share. */
interface Turn {
  stamps: Readonly<Partial<StampFields>>;
  now: Date;
  request: WorkflowRequest;
  refuse(why: string): never;
  /** The current user, or null. */
  user(): UserRef | null;
  /** The current user; refused without one. */
  requireUser(): UserRef;
  /** The current user, who must be the addressee `to` when the request has one. */
  requireAddressee(to: UserRef | null | undefined): UserRef;
  /** The request's addressee, as stored. */
  to(): UserRef | null;
  /** The request's reason: a string or null. */
  reason(): string | null;
  action(type: string, note?: string | null): ActionInput;
}

const RULES: Readonly<Record<WorkflowStep, (t: Turn) => WorkflowTransition>> = {
  softDelete: (t) => {
    if (t.stamps.is_deleted) t.refuse('it is already deleted');
    const values = { deleted_by: t.user(), deleted_date: t.now, deleted_reason: t.reason(), is_deleted: true };
    return { values, change: 'SoftDeleted', action: null };
  },
  restore: (t) => {
    if (!t.stamps.is_deleted) t.refuse('it is not deleted');
    return { values: { deleted_by: null, deleted_date: null, deleted_reason: null, is_deleted: false }, change: 'Restored', action: null };
  },
  requestDelete: (t) => {
    if (t.stamps.is_deleted) t.refuse('it is already deleted');
    if (t.stamps.request_delete_status === 'pending') t.refuse('a delete request is already pending');
    const by = t.requireUser();
    const reason = t.reason();
    const values = {
      request_delete_by: by,
      request_delete_to: t.to(),
      request_delete_date: t.now,
      request_delete_reason: reason,
      request_delete_status: 'pending' as const,
    };
    return { values, change: 'Updated', action: t.action('delete_requested', reason) };
  },
  approveDelete: (t) => {
    if (t.stamps.request_delete_status !== 'pending') t.refuse('no delete request is pending');
    const me = t.requireAddressee(t.stamps.request_delete_to);
    const values = {
      request_delete_status: 'approved' as const,
      deleted_by: me,
      deleted_date: t.now,
      deleted_reason: t.stamps.request_delete_reason ?? null,
      is_deleted: true,
    };
    return { values, change: 'SoftDeleted', action: t.action('delete_approved') };
  },
  rejectDelete: (t) => {
    if (t.stamps.request_delete_status !== 'pending') t.refuse('no delete request is pending');
    t.requireAddressee(t.stamps.request_delete_to);
    return { values: { request_delete_status: 'rejected' }, change: 'Updated', action: t.action('delete_rejected', t.reason()) };
  },
  requestApproval: (t) => {
    if (t.stamps.request_approval_status === 'pending') t.refuse('an approval request is already pending');
    if (t.stamps.is_approved) t.refuse('it is already approved');
    const values = {
      request_approval_by: t.requireUser(),
      request_approval_to: t.to(),
      request_approval_date: t.now,
      request_approval_status: 'pending' as const,
      request_approval_rejected_reason: null,
    };
    return { values, change: 'Updated', action: t.action('approval_requested') };
  },
  approve: (t) => {
    if (t.stamps.request_approval_status !== 'pending') t.refuse('no approval request is pending');
    const me = t.requireAddressee(t.stamps.request_approval_to);
    const values = { request_approval_status: 'approved' as const, approved_by: me, approved_date: t.now, is_approved: true };
    return { values, change: 'Updated', action: t.action('approved') };
  },
  rejectApproval: (t) => {
    if (t.stamps.request_approval_status !== 'pending') t.refuse('no approval request is pending');
    const reason = t.request.reason;
    if (typeof reason !== 'string' || !reason) return t.refuse('a reason is required');
    t.requireAddressee(t.stamps.request_approval_to);
    const values = { request_approval_status: 'rejected' as const, request_approval_rejected_reason: reason };
    return { values, change: 'Updated', action: t.action('approval_rejected', reason) };
  },
};

/**
 * Takes one workflow step on a record, as the rules allow it from its stamps and the current user: what to write
 * and record. A step out of turn, by anyone but the addressee, or without a current user where one is needed
 * throws `ActionLogWorkflowError`; a reason that is not a string, `ActionLogValidationError`.
 */
export function workflowTransition(
  logger: ActionLogger,
  step: WorkflowStep,
  record: WorkflowRecord,
  request: WorkflowRequest = {},
): WorkflowTransition {
  const what = WHAT[step];
  const refuse = (why: string): never => {
    throw new ActionLogWorkflowError(`${record.model} ${record.id}: cannot ${what}: ${why}`);
  };
  const user = () => logger.current()?.user ?? null;
  const requireUser = () => user() ?? refuse('there is no current user (run it inside a request or logger.run with a user)');
  const stamps = record.stamps ?? refuse('it is not stored');
  const turn: Turn = {
    stamps,
    now: new Date(),
    request,
    refuse,
    user,
    requireUser,
    requireAddressee: (to) => {
      const me = requireUser();
      // Ids keep their type: two ObjectIds of one user are two objects, compared by their hex.
      if (to && userIdText(to._id) !== userIdText(me._id)) refuse(`the request is addressed to ${to.label}`);
      return me;
    },
    to: () => logger.userRef(request.to),
    reason: () => {
      const reason = request.reason;
      if (reason === undefined || reason === null) return null;
      if (typeof reason !== 'string') throw new ActionLogValidationError([{ path: 'reason', message: 'must be a string' }], what);
      return reason;
    },
    action: (type, note) => ({
      action: { type, category: 'workflow' },
      target: { type: targetType(record.model), id: record.id },
      ...(note ? { note } : {}),
    }),
  };
  return RULES[step](turn);
}

/** A model name as an action's target type: `PurchaseOrder` → `purchase_order`. */
function targetType(model: string): string {
  return model
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
}
