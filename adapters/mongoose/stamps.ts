import type { ActionLogger } from 'actionlog';
import type { Schema } from 'mongoose';
import type { DocumentWrites } from './document-writes.js';
import { addStampFields } from './stamp-fields.js';
import { hideSoftDeleted } from './soft-delete-filter.js';
import { addWorkflow } from './workflow.js';

export type { StampedDocument } from './workflow.js';

/** `actionLog: { stamps: true }`: the stamp fields, soft delete hidden from reads, and the request workflows. */
export function addStamps(schema: Schema, logger: ActionLogger, documents: DocumentWrites): void {
  addStampFields(schema, logger);
  hideSoftDeleted(schema);
  addWorkflow(schema, logger, documents);
}
