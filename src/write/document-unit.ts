import { emptyBatch } from '../shared/batch-units.js';
import type { RequestAppend, StoreBatch, StoredAttachment } from '../shared/document.js';

/**
 * What one queued item becomes once built: its document with what goes with it (mirrors, spilled logs), or a late
 * append, and the attachment bytes its actions name. The writer stores units a batch at a time; the spool keeps
 * each as one line.
 */
export interface DocumentUnit {
  batch: StoreBatch;
  appends: RequestAppend[];
  attachments: StoredAttachment[];
}

/** Adds the documents of `from` to `to`. */
export function mergeBatch(to: StoreBatch, from: StoreBatch): void {
  to.requests.push(...from.requests);
  to.actionLogs.push(...from.actionLogs);
  to.modelLogs.push(...from.modelLogs);
  to.activities.push(...from.activities);
}

/** One unit holding the documents of all of `units`, in order. */
export function mergeUnits(units: readonly DocumentUnit[]): DocumentUnit {
  if (units.length === 1 && units[0]) return units[0];
  const merged: DocumentUnit = { batch: emptyBatch(), appends: [], attachments: [] };
  for (const { batch, appends, attachments } of units) {
    mergeBatch(merged.batch, batch);
    merged.appends.push(...appends);
    merged.attachments.push(...attachments);
  }
  return merged;
}
