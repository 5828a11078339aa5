import { type BatchEntry, batchOfUnits, batchUnits, documentsOf } from '../shared/batch-units.js';
import type { IntegrityLink, RequestAppend, StoreBatch } from '../shared/document.js';

/** A document a store refused, kept aside so that the rest of its batch could be stored. */
export interface QuarantinedDocument {
  /** Which collection it was for, or `append` for late events. */
  kind: 'request' | 'action_log' | 'model_log' | 'activity' | 'append';
  request_uuid: string | null;
  document: unknown;
  /** What the store answered. */
  error: { name: string; message: string };
  at: Date;
}

/** One store call of a batch. It can be cut in halves, to find the document a store refuses. */
export interface WriteStep {
  /** Units it writes (a request document with its mirrors is one); 0 for a step that writes none (the store's setup). */
  readonly size: number;
  run(): Promise<void>;
  /** Two steps writing its documents between them (size > 1 only). */
  split(): [WriteStep, WriteStep];
  /** Its one unit's document (size 1 only). */
  only(): Pick<QuarantinedDocument, 'kind' | 'request_uuid' | 'document'>;
  /** Every document and append it writes (none for a setup step). */
  documents(): Iterable<{ integrity?: Partial<IntegrityLink> }>;
  /** Runs only once every batch built before its own has finished (stored or dropped), whatever else is in flight. */
  readonly ordered?: boolean;
}

/** A step that writes no document (the store's setup): it can only be retried. */
export function setupStep(run: () => Promise<void>): WriteStep {
  return {
    size: 0,
    run,
    split: () => {
      throw new Error('a setup step has no documents to split');
    },
    only: () => {
      throw new Error('a setup step has no document');
    },
    documents: () => [],
  };
}

/** A setup step that runs after every earlier batch has finished: what must follow the batches in their order. */
export function orderedStep(run: () => Promise<void>): WriteStep {
  return Object.assign(setupStep(run), { ordered: true });
}

const KINDS = [
  ['requests', 'request'],
  ['actionLogs', 'action_log'],
  ['modelLogs', 'model_log'],
  ['activities', 'activity'],
] as const;

/** The step writing `batch`; its halves keep the documents themselves, so a retry sends the same objects. */
export function batchStep(batch: StoreBatch, write: (batch: StoreBatch) => Promise<void>): WriteStep {
  return unitStep(batchUnits(batch), batch, write);
}

function unitStep(units: BatchEntry[][], batch: StoreBatch, write: (batch: StoreBatch) => Promise<void>): WriteStep {
  return {
    size: units.length,
    run: () => write(batch),
    split: () => {
      const half = Math.ceil(units.length / 2);
      const [first, second] = [units.slice(0, half), units.slice(half)];
      return [unitStep(first, batchOfUnits(first), write), unitStep(second, batchOfUnits(second), write)];
    },
    only: () => {
      // A unit's first document is its request, when it has one: the mirrors are copies of parts of it.
      const [part, document] = units[0]?.[0] ?? ['requests', null];
      const kind = KINDS.find(([p]) => p === part)?.[1] ?? 'request';
      const uuid = (document as { request_uuid?: unknown } | null)?.request_uuid;
      return { kind, request_uuid: typeof uuid === 'string' ? uuid : null, document };
    },
    documents: () => documentsOf(batch),
  };
}

/** The step adding late events to their documents. */
export function appendStep(appends: RequestAppend[], append: (appends: RequestAppend[]) => Promise<void>): WriteStep {
  return {
    size: appends.length,
    run: () => append(appends),
    split: () => {
      const half = Math.ceil(appends.length / 2);
      return [appendStep(appends.slice(0, half), append), appendStep(appends.slice(half), append)];
    },
    only: () => ({ kind: 'append', request_uuid: appends[0]?.request_uuid ?? null, document: appends[0] }),
    documents: () => appends,
  };
}
