import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionLogConfigError, ActionLogWorkflowError, createActionLogger, MemoryStore } from 'actionlog';
import {
  ActionLogSubscriber,
  approve,
  approveDelete,
  AuditStamped,
  rejectApproval,
  rejectDelete,
  requestApproval,
  requestDelete,
} from 'actionlog/typeorm';
import { Column, type EntityManager, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { anyDate } from '../../support/matchers.js';

@Entity('wf_invoices')
class Invoice extends AuditStamped {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'integer' })
  amount!: number;
}

/** An entity without the stamp columns. */
@Entity('wf_memos')
class Memo {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  text!: string;
}

const ada = { id: 'u1', name: 'Ada' };
const bo = { id: 'u2', name: 'Bo' };
const cy = { id: 'u3', name: 'Cy' };
const ref = (u: { id: string; name: string }) => ({ lookup_from: 'users', _id: u.id, label: u.name });

describe.each(SQL_KINDS)('TypeORM workflow on %s', (kind) => {
  let db: SqlDatabase;
  const store = new MemoryStore();
  const logger = createActionLogger({ store, flushIntervalMs: 0 });

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: [Invoice, Memo], subscribers: [new ActionLogSubscriber(logger)] });
  });
  afterAll(async () => {
    await logger.close();
    await db.drop();
  });

  const manager = () => db.dataSource.manager;
  const invoices = () => db.dataSource.getRepository(Invoice);
  const as = <T>(user: object, fn: () => Promise<T>, requestUuid: string = randomUUID()) => logger.run({ user, requestUuid }, fn);
  const load = async (id: number) => (await invoices().findOne({ where: { id }, withDeleted: true }))!;
  const create = (amount: number) => as(ada, () => invoices().save(invoices().create({ amount })));
  const logsOf = async (uuid: string) => {
    await logger.flush();
    return store.requests().find((d) => d.request_uuid === uuid)!.details;
  };
  /** What a refused step says, exactly as the Mongoose methods say it. */
  const refusal = (id: number, what: string, why: string) => new ActionLogWorkflowError(`Invoice ${id}: cannot ${what}: ${why}`);

  it('runs the delete-request workflow: the stamps, a model log and an action per step', async () => {
    const invoice = await create(10);
    const requested = await as(ada, () => requestDelete(manager(), invoice, { to: bo, reason: 'wrong customer' }), 'wf-req');
    expect(requested).toBe(invoice);
    const pending = {
      request_delete_by: ref(ada),
      request_delete_to: ref(bo),
      request_delete_date: anyDate,
      request_delete_reason: 'wrong customer',
      request_delete_status: 'pending',
    };
    expect(await load(invoice.id)).toMatchObject({ ...pending, updated_by: ref(ada), updated_count: 1, is_deleted: false });
    expect(invoice).toMatchObject({ ...pending, updated_count: 1 });

    const req = await logsOf('wf-req');
    expect(req.actions.map((a) => [a.action_type, a.action_category, a.target_type, a.target_id, a.note])).toEqual([
      ['delete_requested', 'workflow', 'invoice', String(invoice.id), 'wrong customer'],
    ]);
    expect(req.model_logs).toHaveLength(1);
    const update = req.model_logs[0]!;
    expect(update).toMatchObject({ action: 'Updated', model: 'wf_invoices', model_class_name: 'Invoice', model_id: String(invoice.id) });
    expect(update.model_details.old_object).toMatchObject({ request_delete_status: null, request_delete_by: null, updated_count: 0 });
    expect(update.model_details.new_object).toMatchObject({ ...pending, updated_count: 1, is_updated: true, amount: 10 });
    expect(update.model_details.changed_fields).toEqual(
      expect.arrayContaining(['request_delete_by', 'request_delete_to', 'request_delete_reason', 'request_delete_status', 'updated_count']),
    );

    await expect(as(ada, () => requestDelete(manager(), invoice, { to: bo }))).rejects.toThrow(
      refusal(invoice.id, 'request deletion', 'a delete request is already pending'),
    );
    await expect(as(cy, () => approveDelete(manager(), invoice))).rejects.toThrow(
      refusal(invoice.id, 'approve deletion', 'the request is addressed to Bo'),
    );
    await expect(as(cy, () => rejectDelete(manager(), invoice))).rejects.toThrow(
      refusal(invoice.id, 'reject deletion', 'the request is addressed to Bo'),
    );

    await as(bo, () => approveDelete(manager(), invoice), 'wf-approved');
    expect(await invoices().findOneBy({ id: invoice.id })).toBeNull();
    const deleted = {
      request_delete_status: 'approved',
      is_deleted: true,
      deleted_by: ref(bo),
      deleted_reason: 'wrong customer',
      deleted_date: anyDate,
      updated_by: ref(bo),
      updated_count: 2,
    };
    expect(await load(invoice.id)).toMatchObject(deleted);
    expect(invoice).toMatchObject(deleted);
    const approved = await logsOf('wf-approved');
    expect(approved.actions.map((a) => [a.action_type, a.target_id, a.note])).toEqual([['delete_approved', String(invoice.id), null]]);
    expect(approved.model_logs.map((l) => l.action)).toEqual(['SoftDeleted']);
    const { old_object, new_object } = approved.model_logs[0]!.model_details;
    expect(old_object).toMatchObject({ request_delete_status: 'pending', is_deleted: false, deleted_by: null, deleted_date: null });
    expect(new_object).toMatchObject({ ...deleted, deleted_date: expect.anything() as unknown });

    await expect(as(bo, () => rejectDelete(manager(), invoice))).rejects.toThrow(
      refusal(invoice.id, 'reject deletion', 'no delete request is pending'),
    );
    await expect(as(bo, () => approveDelete(manager(), invoice))).rejects.toThrow(
      refusal(invoice.id, 'approve deletion', 'no delete request is pending'),
    );
    await expect(as(ada, () => requestDelete(manager(), invoice, { to: bo }))).rejects.toThrow(
      refusal(invoice.id, 'request deletion', 'it is already deleted'),
    );
  });

  it('rejects a delete request, and a new one can follow', async () => {
    const invoice = await create(11);
    await as(ada, () => requestDelete(manager(), invoice, { to: bo }));
    await as(bo, () => rejectDelete(manager(), invoice, 'keep it'), 'wf-rejected');
    expect(await load(invoice.id)).toMatchObject({ request_delete_status: 'rejected', is_deleted: false, deleted_date: null });
    const rejected = await logsOf('wf-rejected');
    expect(rejected.actions.map((a) => [a.action_type, a.note])).toEqual([['delete_rejected', 'keep it']]);
    expect(
      rejected.model_logs.map((l) => [
        l.action,
        l.model_details.old_object?.request_delete_status,
        l.model_details.new_object?.request_delete_status,
      ]),
    ).toEqual([['Updated', 'pending', 'rejected']]);
    // A request addressed to no one may be decided by anyone.
    await as(ada, () => requestDelete(manager(), invoice));
    await as(cy, () => approveDelete(manager(), invoice));
    expect(await load(invoice.id)).toMatchObject({
      request_delete_status: 'approved',
      deleted_by: ref(cy),
      deleted_reason: null,
      is_deleted: true,
    });
  });

  it('runs the approval workflow and refuses what is out of turn', async () => {
    const invoice = await create(12);
    await expect(as(bo, () => approve(manager(), invoice))).rejects.toThrow(
      refusal(invoice.id, 'approve', 'no approval request is pending'),
    );
    await expect(as(bo, () => rejectApproval(manager(), invoice, 'no'))).rejects.toThrow(
      refusal(invoice.id, 'reject approval', 'no approval request is pending'),
    );
    await as(ada, () => requestApproval(manager(), invoice, { to: bo }), 'wf-appr-req');
    expect(await load(invoice.id)).toMatchObject({
      request_approval_by: ref(ada),
      request_approval_to: ref(bo),
      request_approval_date: anyDate,
      request_approval_status: 'pending',
      is_approved: false,
    });
    const req = await logsOf('wf-appr-req');
    expect(req.actions.map((a) => [a.action_type, a.target_type])).toEqual([['approval_requested', 'invoice']]);
    expect(req.model_logs[0]!.model_details.new_object).toMatchObject({ request_approval_status: 'pending', request_approval_to: ref(bo) });

    await expect(as(ada, () => requestApproval(manager(), invoice, { to: bo }))).rejects.toThrow(
      refusal(invoice.id, 'request approval', 'an approval request is already pending'),
    );
    await expect(as(bo, () => rejectApproval(manager(), invoice, ''))).rejects.toThrow(
      refusal(invoice.id, 'reject approval', 'a reason is required'),
    );
    await expect(as(cy, () => approve(manager(), invoice))).rejects.toThrow(
      refusal(invoice.id, 'approve', 'the request is addressed to Bo'),
    );

    await as(bo, () => rejectApproval(manager(), invoice, 'missing VAT number'), 'wf-appr-rej');
    expect(await load(invoice.id)).toMatchObject({
      request_approval_status: 'rejected',
      request_approval_rejected_reason: 'missing VAT number',
      is_approved: false,
    });
    const rej = await logsOf('wf-appr-rej');
    expect(rej.actions.map((a) => [a.action_type, a.note])).toEqual([['approval_rejected', 'missing VAT number']]);
    expect(rej.model_logs[0]!.model_details.new_object).toMatchObject({ request_approval_rejected_reason: 'missing VAT number' });

    await as(ada, () => requestApproval(manager(), invoice, { to: bo }));
    expect(await load(invoice.id)).toMatchObject({ request_approval_status: 'pending', request_approval_rejected_reason: null });
    await as(bo, () => approve(manager(), invoice), 'wf-approve');
    const approved = { request_approval_status: 'approved', approved_by: ref(bo), approved_date: anyDate, is_approved: true };
    expect(await load(invoice.id)).toMatchObject(approved);
    const log = await logsOf('wf-approve');
    expect(log.actions.map((a) => a.action_type)).toEqual(['approved']);
    expect(log.model_logs.map((l) => l.action)).toEqual(['Updated']);
    expect(log.model_logs[0]!.model_details.old_object).toMatchObject({
      request_approval_status: 'pending',
      is_approved: false,
      approved_by: null,
    });
    expect(log.model_logs[0]!.model_details.new_object).toMatchObject({ ...approved, approved_date: expect.anything() as unknown });
    await expect(as(ada, () => requestApproval(manager(), invoice, { to: bo }))).rejects.toThrow(
      refusal(invoice.id, 'request approval', 'it is already approved'),
    );
  });

  it('refuses a step without a current user, on a row not stored, and records nothing for a refused step', async () => {
    const invoice = await create(13);
    await expect(requestDelete(manager(), invoice, { to: bo })).rejects.toThrow(
      refusal(invoice.id, 'request deletion', 'there is no current user (run it inside a request or logger.run with a user)'),
    );
    await expect(as(ada, () => requestDelete(manager(), invoices().create({ amount: 1 })))).rejects.toThrow(
      new ActionLogWorkflowError('Invoice (not saved): cannot request deletion: it is not stored'),
    );
    await expect(as(ada, () => approve(manager(), invoices().create({ id: 999_999, amount: 1 })))).rejects.toThrow(
      new ActionLogWorkflowError('Invoice 999999: cannot approve: it is not stored'),
    );
    await expect(as(ada, () => approve(manager(), invoice), 'wf-refused')).rejects.toBeInstanceOf(ActionLogWorkflowError);
    const refused = await logsOf('wf-refused');
    expect([refused.model_logs, refused.actions]).toEqual([[], []]);
    expect(await load(invoice.id)).toMatchObject({ request_approval_status: null, updated_count: 0 });
  });

  it('refuses an entity without the stamp columns', async () => {
    const memo = await manager().save(manager().create(Memo, { text: 'x' }));
    await expect(as(ada, () => requestDelete(manager(), memo, { to: bo }))).rejects.toThrow(ActionLogConfigError);
    await expect(as(ada, () => requestDelete(manager(), memo, { to: bo }))).rejects.toThrow(/has no column created_by, created_date/);
  });

  it("records a step in the caller's transaction when it commits, and nothing when it rolls back", async () => {
    const invoice = await create(14);
    await expect(
      as(
        ada,
        () =>
          db.dataSource.transaction(async (tx: EntityManager) => {
            await requestDelete(tx, invoice, { to: bo, reason: 'typo' });
            expect(await tx.findOneBy(Invoice, { id: invoice.id })).toMatchObject({ request_delete_status: 'pending' });
            throw new Error('changed my mind');
          }),
        'wf-rollback',
      ),
    ).rejects.toThrow('changed my mind');
    expect(await load(invoice.id)).toMatchObject({ request_delete_status: null, request_delete_by: null, updated_count: 0 });
    const rolledBack = await logsOf('wf-rollback');
    expect([rolledBack.model_logs, rolledBack.actions]).toEqual([[], []]);

    // A refused step inside the caller's transaction leaves the rest of it to commit.
    await as(
      ada,
      () =>
        db.dataSource.transaction(async (tx: EntityManager) => {
          await expect(approveDelete(tx, invoice)).rejects.toThrow(refusal(invoice.id, 'approve deletion', 'no delete request is pending'));
          await tx.update(Invoice, { id: invoice.id }, { amount: 15 });
          await requestDelete(tx, invoice, { to: bo, reason: 'typo' });
        }),
      'wf-commit',
    );
    expect(await load(invoice.id)).toMatchObject({ amount: 15, request_delete_status: 'pending', updated_count: 2 });
    const committed = await logsOf('wf-commit');
    expect(committed.actions.map((a) => [a.action_type, a.note])).toEqual([['delete_requested', 'typo']]);
    expect(
      committed.model_logs.map((l) => [l.action, l.model_details.new_object?.amount, l.model_details.new_object?.request_delete_status]),
    ).toEqual([
      ['Updated', 15, null],
      ['Updated', 15, 'pending'],
    ]);
  });

  it.runIf(kind === 'postgres')('lets one of two concurrent approvals through: the row is locked while a step is taken', async () => {
    const invoice = await create(16);
    await as(ada, () => requestDelete(manager(), invoice, { to: bo }));
    const copies = [await load(invoice.id), await load(invoice.id)];
    const outcomes = await Promise.allSettled(copies.map((copy) => as(bo, () => approveDelete(manager(), copy))));
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failure = outcomes.find((o) => o.status === 'rejected')!;
    expect(failure.reason).toEqual(refusal(invoice.id, 'approve deletion', 'no delete request is pending'));
    expect(await load(invoice.id)).toMatchObject({ request_delete_status: 'approved', is_deleted: true, updated_count: 2 });
  });
});
