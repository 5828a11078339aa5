import type { IntegrityLink, RequestAppend, StoreBatch } from './document.js';

/** A batch's lists, in the order a store writes them. */
export const BATCH_LISTS = ['requests', 'actionLogs', 'modelLogs', 'activities'] as const;

type List = (typeof BATCH_LISTS)[number];
/** A batch with no documents. */
export function emptyBatch(): StoreBatch {
  return { requests: [], actionLogs: [], modelLogs: [], activities: [] };
}

/** One document of a batch, with the list it is in. */
export type BatchEntry = [List, StoreBatch[List][number]];

/**
 * The documents of a batch in units: a request document with its mirrors (the action and model logs copied from
 * it, which name its `request_uuid`; the last such request when several do), which stand or fall together, and
 * every other document on its own. Units keep the batch's order.
 */
export function batchUnits(batch: StoreBatch): BatchEntry[][] {
  const byRequest = new Map<string, BatchEntry[]>();
  const units: BatchEntry[][] = batch.requests.map((doc) => {
    const unit: BatchEntry[] = [['requests', doc]];
    byRequest.set(doc.request_uuid, unit);
    return unit;
  });
  for (const list of BATCH_LISTS.slice(1)) {
    for (const doc of batch[list]) {
      const uuid = (doc as { request_uuid?: unknown }).request_uuid;
      const unit = list !== 'activities' && typeof uuid === 'string' ? byRequest.get(uuid) : undefined;
      if (unit) unit.push([list, doc]);
      else units.push([[list, doc]]);
    }
  }
  return units;
}

/** The batch holding the documents of `units`, each list in their order. */
export function batchOfUnits(units: readonly BatchEntry[][]): StoreBatch {
  const batch = emptyBatch();
  for (const unit of units) for (const [list, doc] of unit) (batch[list] as unknown[]).push(doc);
  return batch;
}

/** Every document of a batch, and every append, with the link each may carry. */
export function* documentsOf(batch: StoreBatch, appends: readonly RequestAppend[] = []): Generator<{ integrity?: Partial<IntegrityLink> }> {
  yield* batch.requests;
  yield* batch.actionLogs;
  yield* batch.modelLogs;
  yield* batch.activities;
  yield* appends;
}
