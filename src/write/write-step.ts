import type { RequestAppend, StoreBatch } from '../shared/document.js';

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
  /** Documents it writes; 0 for a step that writes none (the store's setup). */
  readonly size: number;
  run(): Promise<void>;
  /** Two steps writing its documents between them (size > 1 only). */
  split(): [WriteStep, WriteStep];
  /** Its one document (size 1 only). */
  only(): Pick<QuarantinedDocument, 'kind' | 'request_uuid' | 'document'>;
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
  };
}

const KINDS = [
  ['requests', 'request'],
  ['actionLogs', 'action_log'],
  ['modelLogs', 'model_log'],
  ['activities', 'activity'],
] as const;

/** The documents of a batch in one list, each with the part of the batch it belongs to. */
function entries(batch: StoreBatch): Array<[keyof StoreBatch, StoreBatch[keyof StoreBatch][number]]> {
  return KINDS.flatMap(([part]) => batch[part].map((doc): [keyof StoreBatch, StoreBatch[keyof StoreBatch][number]] => [part, doc]));
}

function batchOf(list: ReturnType<typeof entries>): StoreBatch {
  const batch: StoreBatch = { requests: [], actionLogs: [], modelLogs: [], activities: [] };
  for (const [part, doc] of list) (batch[part] as unknown[]).push(doc);
  return batch;
}

/** The step writing `batch`; its halves keep the documents themselves, so a retry sends the same objects. */
export function batchStep(batch: StoreBatch, write: (batch: StoreBatch) => Promise<void>): WriteStep {
  const list = entries(batch);
  return {
    size: list.length,
    run: () => write(batch),
    split: () => {
      const half = Math.ceil(list.length / 2);
      return [batchStep(batchOf(list.slice(0, half)), write), batchStep(batchOf(list.slice(half)), write)];
    },
    only: () => {
      const [part, document] = list[0] ?? ['requests', null];
      const kind = KINDS.find(([p]) => p === part)?.[1] ?? 'request';
      const uuid = (document as { request_uuid?: unknown } | null)?.request_uuid;
      return { kind, request_uuid: typeof uuid === 'string' ? uuid : null, document };
    },
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
  };
}
