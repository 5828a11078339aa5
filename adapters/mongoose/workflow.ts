import { type ActionLogger, ActionLogWorkflowError, type UserRef, userIdText } from 'actionlog';
import type { Document, Schema } from 'mongoose';
import type { DocumentWrites } from './document-writes.js';
import type { StampFields } from './stamp-fields.js';

type Doc = Document & StampFields;

/** Methods stamped documents get. */
export interface StampedDocument {
  /** Marks the document deleted (`is_deleted`, `deleted_*`), hidden from queries unless `.withDeleted()`. */
  softDelete(reason?: string): Promise<this>;
  /** Undoes `softDelete()`. */
  restore(): Promise<this>;
  /** Asks `to` (a user, or anything `describeUser` understands) to approve deleting this document. */
  requestDelete(request: { to?: unknown; reason?: string }): Promise<this>;
  /** Approves the pending delete request: the document is soft-deleted. */
  approveDelete(): Promise<this>;
  /** Rejects the pending delete request. */
  rejectDelete(reason?: string): Promise<this>;
  /** Asks `to` to approve this document. */
  requestApproval(request?: { to?: unknown }): Promise<this>;
  /** Approves the pending approval request. */
  approve(): Promise<this>;
  /** Rejects the pending approval request; the reason is kept in `request_approval_rejected_reason`. */
  rejectApproval(reason: string): Promise<this>;
}

/** Adds soft delete and the delete-request and approval workflows: each step a model log and an action. */
export function addWorkflow(schema: Schema, logger: ActionLogger, documents: DocumentWrites): void {
  const user = (): UserRef | null => logger.current()?.user ?? null;
  const describe = (who: unknown): UserRef | null => logger.userRef(who);

  const action = async (doc: Doc, type: string, note?: string) => {
    try {
      const model = doc.constructor as unknown as { modelName: string };
      logger.record({
        action: { type, category: 'workflow' },
        target: {
          type: model.modelName
            .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
            .toLowerCase()
            .replace(/[^a-z0-9_]/g, '_'),
          id: String(doc._id),
        },
        ...(note ? { note } : {}),
      });
    } catch (error) {
      logger.reportError(error);
    }
  };
  const refuse = (doc: Doc, what: string, why: string) => {
    const model = doc.constructor as unknown as { modelName: string };
    throw new ActionLogWorkflowError(`${model.modelName} ${String(doc._id)}: cannot ${what}: ${why}`);
  };
  const requireUser = (doc: Doc, what: string): UserRef =>
    user() ?? refuse(doc, what, 'there is no current user (run it inside a request or logger.run with a user)');
  const requireAddressee = (doc: Doc, what: string, to: UserRef | null) => {
    const me = requireUser(doc, what);
    // Ids keep their type: two ObjectIds of one user are two objects, compared by their hex.
    if (to && userIdText(to._id) !== userIdText(me._id)) refuse(doc, what, `the request is addressed to ${to.label}`);
    return me;
  };

  schema.method('softDelete', async function (this: Doc, reason?: string) {
    if (this.is_deleted) refuse(this, 'soft-delete', 'it is already deleted');
    this.deleted_by = user();
    this.deleted_date = new Date();
    this.deleted_reason = reason ?? null;
    this.is_deleted = true;
    documents.nextSaveIs(this, 'SoftDeleted');
    return this.save();
  });
  schema.method('restore', async function (this: Doc) {
    if (!this.is_deleted) refuse(this, 'restore', 'it is not deleted');
    this.deleted_by = null;
    this.deleted_date = null;
    this.deleted_reason = null;
    this.is_deleted = false;
    documents.nextSaveIs(this, 'Restored');
    return this.save();
  });
  schema.method('requestDelete', async function (this: Doc, request: { to?: unknown; reason?: string } = {}) {
    if (this.is_deleted) refuse(this, 'request deletion', 'it is already deleted');
    if (this.request_delete_status === 'pending') refuse(this, 'request deletion', 'a delete request is already pending');
    this.request_delete_by = requireUser(this, 'request deletion');
    this.request_delete_to = describe(request.to);
    this.request_delete_date = new Date();
    this.request_delete_reason = request.reason ?? null;
    this.request_delete_status = 'pending';
    await this.save();
    await action(this, 'delete_requested', request.reason);
    return this;
  });
  schema.method('approveDelete', async function (this: Doc) {
    if (this.request_delete_status !== 'pending') refuse(this, 'approve deletion', 'no delete request is pending');
    const me = requireAddressee(this, 'approve deletion', this.request_delete_to);
    this.request_delete_status = 'approved';
    this.deleted_by = me;
    this.deleted_date = new Date();
    this.deleted_reason = this.request_delete_reason;
    this.is_deleted = true;
    documents.nextSaveIs(this, 'SoftDeleted');
    await this.save();
    await action(this, 'delete_approved');
    return this;
  });
  schema.method('rejectDelete', async function (this: Doc, reason?: string) {
    if (this.request_delete_status !== 'pending') refuse(this, 'reject deletion', 'no delete request is pending');
    requireAddressee(this, 'reject deletion', this.request_delete_to);
    this.request_delete_status = 'rejected';
    await this.save();
    await action(this, 'delete_rejected', reason);
    return this;
  });
  schema.method('requestApproval', async function (this: Doc, request: { to?: unknown } = {}) {
    if (this.request_approval_status === 'pending') refuse(this, 'request approval', 'an approval request is already pending');
    if (this.is_approved) refuse(this, 'request approval', 'it is already approved');
    this.request_approval_by = requireUser(this, 'request approval');
    this.request_approval_to = describe(request.to);
    this.request_approval_date = new Date();
    this.request_approval_status = 'pending';
    this.request_approval_rejected_reason = null;
    await this.save();
    await action(this, 'approval_requested');
    return this;
  });
  schema.method('approve', async function (this: Doc) {
    if (this.request_approval_status !== 'pending') refuse(this, 'approve', 'no approval request is pending');
    const me = requireAddressee(this, 'approve', this.request_approval_to);
    this.request_approval_status = 'approved';
    this.approved_by = me;
    this.approved_date = new Date();
    this.is_approved = true;
    await this.save();
    await action(this, 'approved');
    return this;
  });
  schema.method('rejectApproval', async function (this: Doc, reason: string) {
    if (this.request_approval_status !== 'pending') refuse(this, 'reject approval', 'no approval request is pending');
    if (typeof reason !== 'string' || !reason) refuse(this, 'reject approval', 'a reason is required');
    requireAddressee(this, 'reject approval', this.request_approval_to);
    this.request_approval_status = 'rejected';
    this.request_approval_rejected_reason = reason;
    await this.save();
    await action(this, 'approval_rejected', reason);
    return this;
  });
}
