import { randomUUID } from 'node:crypto';
import { type Connection, Schema } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionLogWorkflowError, createActionLogger, MemoryStore } from 'actionlog';
import { actionLogPlugin, type StampedDocument } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { anyDate } from '../../support/matchers.js';

const store = new MemoryStore();
const logger = createActionLogger({ store, flushIntervalMs: 0 });
const schema = new Schema({ title: String, amount: Number }, { actionLog: { stamps: true } });
schema.plugin(actionLogPlugin(logger));
const connect = useMongooseConnection();
let conn: Connection;
const invoiceModel = (c: Connection) => c.model('Invoice', schema);
/** An invoice as loaded: its fields, and the stamps' fields and methods. */
type Invoice = InstanceType<ReturnType<typeof invoiceModel>> & StampedDocument;
let Invoice: ReturnType<typeof invoiceModel>;
/** The query helper the stamps add, which Mongoose's types cannot know of. */
interface WithDeleted {
  withDeleted(): PromiseLike<unknown[]>;
}

beforeAll(async () => {
  conn = await connect();
  Invoice = invoiceModel(conn);
});
afterAll(async () => {
  await logger.close();
});

const ada = { id: 'u1', name: 'Ada' };
const bo = { id: 'u2', name: 'Bo' };
const cy = { id: 'u3', name: 'Cy' };
const ref = (u: { id: string; name: string }) => ({ lookup_from: 'users', _id: u.id, label: u.name });
const as = <T>(user: object, fn: () => Promise<T>, requestUuid: string = randomUUID()) => logger.run({ user, requestUuid }, fn);
const load = async (id: unknown) => (await Invoice.findById<Invoice>(id).setOptions({ withDeleted: true }))!;
const logsOf = async (uuid: string) => {
  await logger.flush();
  return store.requests().find((d) => d.request_uuid === uuid)!.details;
};

describe('mongoose inline stamps', () => {
  it('stamps creation and every update, from save() and from query updates', async () => {
    const invoice = (await as(ada, () => Invoice.create({ title: 'A', amount: 1 }))) as Invoice;
    expect(invoice).toMatchObject({ created_by: ref(ada), created_date: anyDate, updated_count: 0, is_updated: false, is_deleted: false });
    await as(bo, async () => {
      const loaded = await load(invoice._id);
      loaded.amount = 2;
      await loaded.save();
    });
    expect(await load(invoice._id)).toMatchObject({ updated_by: ref(bo), updated_count: 1, is_updated: true, created_by: ref(ada) });
    await as(ada, () => Invoice.updateOne({ _id: invoice._id }, { $set: { amount: 3 } }));
    expect(await load(invoice._id)).toMatchObject({ amount: 3, updated_by: ref(ada), updated_count: 2 });
  });

  it('soft-deletes and restores, recorded as SoftDeleted and Restored, hidden from reads unless asked for', async () => {
    const invoice = (await as(ada, () => Invoice.create({ title: 'B', amount: 1 }))) as Invoice;
    await as(bo, async () => (await load(invoice._id)).softDelete('duplicate'), 'soft');
    expect(await Invoice.findById(invoice._id)).toBeNull();
    expect(await Invoice.countDocuments({ _id: invoice._id })).toBe(0);
    expect((await (Invoice.find({ _id: invoice._id }) as unknown as WithDeleted).withDeleted()).length).toBe(1);
    expect(await load(invoice._id)).toMatchObject({
      is_deleted: true,
      deleted_by: ref(bo),
      deleted_reason: 'duplicate',
      deleted_date: anyDate,
    });
    const soft = await logsOf('soft');
    expect(soft.model_logs.map((l) => [l.action, l.model_details.new_object?.is_deleted])).toEqual([['SoftDeleted', true]]);
    await as(ada, async () => (await load(invoice._id)).restore(), 'restored');
    expect((await logsOf('restored')).model_logs.map((l) => l.action)).toEqual(['Restored']);
    expect(await Invoice.findById(invoice._id)).toMatchObject({ is_deleted: false, deleted_by: null });
    await expect(as(ada, async () => (await load(invoice._id)).restore())).rejects.toBeInstanceOf(ActionLogWorkflowError);
  });

  it('runs the delete-request workflow: only the addressee may decide, and every step is an action', async () => {
    const invoice = (await as(ada, () => Invoice.create({ title: 'C', amount: 1 }))) as Invoice;
    await as(ada, async () => (await load(invoice._id)).requestDelete({ to: bo, reason: 'wrong customer' }), 'req');
    expect(await load(invoice._id)).toMatchObject({
      request_delete_by: ref(ada),
      request_delete_to: ref(bo),
      request_delete_status: 'pending',
      request_delete_reason: 'wrong customer',
    });
    const req = await logsOf('req');
    expect(req.actions.map((a) => [a.action_type, a.target_type, a.target_id, a.note])).toEqual([
      ['delete_requested', 'invoice', String(invoice._id), 'wrong customer'],
    ]);
    expect(req.model_logs.map((l) => l.action)).toEqual(['Updated']);

    await expect(as(ada, async () => (await load(invoice._id)).requestDelete({ to: bo }))).rejects.toThrow(/already pending/);
    await expect(as(cy, async () => (await load(invoice._id)).approveDelete())).rejects.toThrow(/addressed to Bo/);
    await as(bo, async () => (await load(invoice._id)).approveDelete(), 'approved');
    expect(await load(invoice._id)).toMatchObject({ request_delete_status: 'approved', is_deleted: true, deleted_by: ref(bo) });
    const approved = await logsOf('approved');
    expect(approved.model_logs.map((l) => l.action)).toEqual(['SoftDeleted']);
    expect(approved.actions.map((a) => a.action_type)).toEqual(['delete_approved']);
    await expect(as(bo, async () => (await load(invoice._id)).rejectDelete())).rejects.toThrow(/no delete request is pending/);
  });

  it('rejects a delete request', async () => {
    const invoice = (await as(ada, () => Invoice.create({ title: 'D', amount: 1 }))) as Invoice;
    await as(ada, async () => (await load(invoice._id)).requestDelete({ to: bo }));
    await as(bo, async () => (await load(invoice._id)).rejectDelete('keep it'), 'rejected');
    expect(await load(invoice._id)).toMatchObject({ request_delete_status: 'rejected', is_deleted: false });
    expect((await logsOf('rejected')).actions.map((a) => [a.action_type, a.note])).toEqual([['delete_rejected', 'keep it']]);
  });

  it('runs the approval workflow and refuses what is out of turn', async () => {
    const invoice = (await as(ada, () => Invoice.create({ title: 'E', amount: 1 }))) as Invoice;
    await expect(as(bo, async () => (await load(invoice._id)).approve())).rejects.toThrow(/no approval request is pending/);
    await as(ada, async () => (await load(invoice._id)).requestApproval({ to: bo }));
    await expect(as(ada, async () => (await load(invoice._id)).requestApproval({ to: bo }))).rejects.toThrow(/already pending/);
    await expect(as(bo, async () => (await load(invoice._id)).rejectApproval(''))).rejects.toThrow(/reason is required/);
    await expect(as(cy, async () => (await load(invoice._id)).approve())).rejects.toThrow(ActionLogWorkflowError);
    await as(bo, async () => (await load(invoice._id)).rejectApproval('missing VAT number'));
    expect(await load(invoice._id)).toMatchObject({
      request_approval_status: 'rejected',
      request_approval_rejected_reason: 'missing VAT number',
      is_approved: false,
    });
    await as(ada, async () => (await load(invoice._id)).requestApproval({ to: bo }));
    await as(bo, async () => (await load(invoice._id)).approve(), 'approval');
    expect(await load(invoice._id)).toMatchObject({
      request_approval_status: 'approved',
      approved_by: ref(bo),
      is_approved: true,
      approved_date: anyDate,
    });
    expect((await logsOf('approval')).actions.map((a) => a.action_type)).toEqual(['approved']);
    await expect(as(ada, async () => (await load(invoice._id)).requestApproval({ to: bo }))).rejects.toThrow(/already approved/);
  });

  it('holds a step taken in a session transaction until the commit: an aborted one records neither change nor action', async () => {
    const invoice = (await as(ada, () => Invoice.create({ title: 'G', amount: 1 }))) as Invoice;
    const step = (reason: string, fail: boolean) =>
      conn.transaction(async (session) => {
        const loaded = (await Invoice.findById<Invoice>(invoice._id).setOptions({ withDeleted: true }).session(session))!;
        await loaded.requestDelete({ to: bo, reason });
        if (fail) throw new Error('aborted by the app');
      });
    await expect(as(ada, () => step('undone', true), 'aborted')).rejects.toThrow('aborted by the app');
    expect(await logsOf('aborted')).toMatchObject({ model_logs: [], actions: [] });
    await as(ada, () => step('kept', false), 'committed');
    const committed = await logsOf('committed');
    expect(committed.actions.map((a) => [a.action_type, a.note])).toEqual([['delete_requested', 'kept']]);
    expect(committed.model_logs.map((l) => l.action)).toEqual(['Updated']);
  });

  it('refuses workflow steps without a current user', async () => {
    const invoice = (await Invoice.create({ title: 'F', amount: 1 })) as Invoice;
    await expect((await load(invoice._id)).requestDelete({ to: bo })).rejects.toThrow(/no current user/);
  });
});
