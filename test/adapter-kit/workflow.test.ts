import { afterAll, describe, expect, it } from 'vitest';
import { ActionLogValidationError, ActionLogWorkflowError, createActionLogger, MemoryStore } from 'actionlog';
import { STAMP_FIELD_NAMES, type StampFields, type WorkflowStep, workflowTransition } from 'actionlog/adapter-kit';
import { anyDate } from '../support/matchers.js';

const logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0 });
afterAll(async () => {
  await logger.close();
});

const ada = { id: 'u1', name: 'Ada' };
const bo = { id: 'u2', name: 'Bo' };
const ref = (u: { id: string; name: string }) => ({ lookup_from: 'users', _id: u.id, label: u.name });

/** Takes `step` on `PurchaseOrder 7` with these stamps, as `user` (none: outside any scope). */
const take = (step: WorkflowStep, stamps: Partial<StampFields> | null, user?: object, request?: { to?: unknown; reason?: unknown }) => {
  const run = () => workflowTransition(logger, step, { model: 'PurchaseOrder', id: '7', stamps }, request);
  return user ? logger.run({ user }, async () => run()) : Promise.resolve().then(run);
};
const refused = (what: string, why: string) => new ActionLogWorkflowError(`PurchaseOrder 7: cannot ${what}: ${why}`);
const target = { type: 'purchase_order', id: '7' };

describe('workflow rules', () => {
  it('names the stamp fields of FORMAT §4, once', () => {
    expect(STAMP_FIELD_NAMES).toEqual([
      ...['created_by', 'created_date'],
      ...['updated_by', 'updated_date', 'updated_count', 'is_updated'],
      ...['deleted_by', 'deleted_date', 'deleted_reason', 'is_deleted'],
      ...['request_delete_by', 'request_delete_to', 'request_delete_date', 'request_delete_reason', 'request_delete_status'],
      ...[
        'request_approval_by',
        'request_approval_to',
        'request_approval_date',
        'request_approval_status',
        'request_approval_rejected_reason',
      ],
      ...['approved_by', 'approved_date', 'is_approved'],
    ]);
  });

  it('allows each step in turn: the stamps it writes, how it is recorded, its action', async () => {
    expect(await take('softDelete', {}, ada, { reason: 'dup' })).toEqual({
      values: { deleted_by: ref(ada), deleted_date: anyDate, deleted_reason: 'dup', is_deleted: true },
      change: 'SoftDeleted',
      action: null,
    });
    expect(await take('softDelete', {})).toMatchObject({ values: { deleted_by: null, deleted_reason: null } });
    expect(await take('restore', { is_deleted: true })).toEqual({
      values: { deleted_by: null, deleted_date: null, deleted_reason: null, is_deleted: false },
      change: 'Restored',
      action: null,
    });
    expect(await take('requestDelete', { request_delete_status: 'rejected' }, ada, { to: bo, reason: 'typo' })).toEqual({
      values: {
        request_delete_by: ref(ada),
        request_delete_to: ref(bo),
        request_delete_date: anyDate,
        request_delete_reason: 'typo',
        request_delete_status: 'pending',
      },
      change: 'Updated',
      action: { action: { type: 'delete_requested', category: 'workflow' }, target, note: 'typo' },
    });
    const pendingDelete = { request_delete_status: 'pending', request_delete_to: ref(bo), request_delete_reason: 'typo' } as const;
    expect(await take('approveDelete', pendingDelete, bo)).toEqual({
      values: { request_delete_status: 'approved', deleted_by: ref(bo), deleted_date: anyDate, deleted_reason: 'typo', is_deleted: true },
      change: 'SoftDeleted',
      action: { action: { type: 'delete_approved', category: 'workflow' }, target },
    });
    expect(await take('rejectDelete', pendingDelete, bo, { reason: 'keep' })).toEqual({
      values: { request_delete_status: 'rejected' },
      change: 'Updated',
      action: { action: { type: 'delete_rejected', category: 'workflow' }, target, note: 'keep' },
    });
    expect(await take('requestApproval', { request_approval_status: 'rejected' }, ada, { to: bo })).toEqual({
      values: {
        request_approval_by: ref(ada),
        request_approval_to: ref(bo),
        request_approval_date: anyDate,
        request_approval_status: 'pending',
        request_approval_rejected_reason: null,
      },
      change: 'Updated',
      action: { action: { type: 'approval_requested', category: 'workflow' }, target },
    });
    const pendingApproval = { request_approval_status: 'pending', request_approval_to: ref(bo) } as const;
    expect(await take('approve', pendingApproval, bo)).toEqual({
      values: { request_approval_status: 'approved', approved_by: ref(bo), approved_date: anyDate, is_approved: true },
      change: 'Updated',
      action: { action: { type: 'approved', category: 'workflow' }, target },
    });
    expect(await take('rejectApproval', pendingApproval, bo, { reason: 'no VAT' })).toEqual({
      values: { request_approval_status: 'rejected', request_approval_rejected_reason: 'no VAT' },
      change: 'Updated',
      action: { action: { type: 'approval_rejected', category: 'workflow' }, target, note: 'no VAT' },
    });
    // A request addressed to no one may be decided by anyone.
    expect(await take('approve', { request_approval_status: 'pending', request_approval_to: null }, ada)).toMatchObject({
      values: { approved_by: ref(ada) },
    });
  });

  it('refuses each step out of turn, by anyone but the addressee, or without a user, naming the record', async () => {
    const noUser = 'there is no current user (run it inside a request or logger.run with a user)';
    const cases: Array<[WorkflowStep, Partial<StampFields> | null, object | undefined, { reason?: unknown }, ActionLogWorkflowError]> = [
      ['softDelete', { is_deleted: true }, ada, {}, refused('soft-delete', 'it is already deleted')],
      ['restore', { is_deleted: false }, ada, {}, refused('restore', 'it is not deleted')],
      ['requestDelete', { is_deleted: true }, ada, {}, refused('request deletion', 'it is already deleted')],
      ['requestDelete', { request_delete_status: 'pending' }, ada, {}, refused('request deletion', 'a delete request is already pending')],
      ['requestDelete', {}, undefined, {}, refused('request deletion', noUser)],
      ['approveDelete', { request_delete_status: 'approved' }, bo, {}, refused('approve deletion', 'no delete request is pending')],
      [
        'approveDelete',
        { request_delete_status: 'pending', request_delete_to: ref(bo) },
        ada,
        {},
        refused('approve deletion', 'the request is addressed to Bo'),
      ],
      ['approveDelete', { request_delete_status: 'pending' }, undefined, {}, refused('approve deletion', noUser)],
      ['rejectDelete', { request_delete_status: null }, bo, {}, refused('reject deletion', 'no delete request is pending')],
      [
        'rejectDelete',
        { request_delete_status: 'pending', request_delete_to: ref(bo) },
        ada,
        {},
        refused('reject deletion', 'the request is addressed to Bo'),
      ],
      [
        'requestApproval',
        { request_approval_status: 'pending' },
        ada,
        {},
        refused('request approval', 'an approval request is already pending'),
      ],
      ['requestApproval', { is_approved: true }, ada, {}, refused('request approval', 'it is already approved')],
      ['requestApproval', {}, undefined, {}, refused('request approval', noUser)],
      ['approve', { request_approval_status: 'rejected' }, bo, {}, refused('approve', 'no approval request is pending')],
      [
        'approve',
        { request_approval_status: 'pending', request_approval_to: ref(bo) },
        ada,
        {},
        refused('approve', 'the request is addressed to Bo'),
      ],
      ['rejectApproval', {}, bo, { reason: 'x' }, refused('reject approval', 'no approval request is pending')],
      ['rejectApproval', { request_approval_status: 'pending' }, bo, { reason: '' }, refused('reject approval', 'a reason is required')],
      [
        'rejectApproval',
        { request_approval_status: 'pending', request_approval_to: ref(bo) },
        ada,
        { reason: 'x' },
        refused('reject approval', 'the request is addressed to Bo'),
      ],
      ['approve', null, bo, {}, refused('approve', 'it is not stored')],
    ];
    for (const [index, [step, stamps, user, request, error]] of cases.entries()) {
      await expect(take(step, stamps, user, request), `case ${index}: ${step}`).rejects.toThrow(error);
      await expect(take(step, stamps, user, request)).rejects.toBeInstanceOf(ActionLogWorkflowError);
    }
  });

  it('refuses a reason that is not a string, naming the field', async () => {
    await expect(take('requestDelete', {}, ada, { reason: 42 })).rejects.toThrow(ActionLogValidationError);
    await expect(take('requestDelete', {}, ada, { reason: 42 })).rejects.toThrow(/reason: must be a string/);
  });
});
