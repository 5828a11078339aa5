import type { ActionLogger } from 'actionlog';
import { type StampFields, type WorkflowRequest, type WorkflowStep, workflowTransition } from 'actionlog/adapter-kit';
import type { Document, Schema } from 'mongoose';
import type { DocumentWrites } from './document-writes.js';
import { recordInSession } from './session-buffer.js';

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
  // The rules are the kit's (shared with TypeORM); the step is saved as any change of the document.
  const take = async (doc: Doc, step: WorkflowStep, request?: WorkflowRequest): Promise<Doc> => {
    const model = (doc.constructor as unknown as { modelName: string }).modelName;
    const transition = workflowTransition(logger, step, { model, id: String(doc._id), stamps: doc }, request);
    Object.assign(doc, transition.values);
    if (transition.change !== 'Updated') documents.nextSaveIs(doc, transition.change);
    const context = logger.current() ?? null;
    await doc.save();
    // Inside a session transaction the action waits for its commit, as the step's model log does.
    if (transition.action) recordInSession(doc.$session(), { action: transition.action, context, logger });
    return doc;
  };

  schema.method('softDelete', function (this: Doc, reason?: string) {
    return take(this, 'softDelete', { reason });
  });
  schema.method('restore', function (this: Doc) {
    return take(this, 'restore');
  });
  schema.method('requestDelete', function (this: Doc, request: { to?: unknown; reason?: string } = {}) {
    return take(this, 'requestDelete', request);
  });
  schema.method('approveDelete', function (this: Doc) {
    return take(this, 'approveDelete');
  });
  schema.method('rejectDelete', function (this: Doc, reason?: string) {
    return take(this, 'rejectDelete', { reason });
  });
  schema.method('requestApproval', function (this: Doc, request: { to?: unknown } = {}) {
    return take(this, 'requestApproval', request);
  });
  schema.method('approve', function (this: Doc) {
    return take(this, 'approve');
  });
  schema.method('rejectApproval', function (this: Doc, reason: string) {
    return take(this, 'rejectApproval', { reason });
  });
}
