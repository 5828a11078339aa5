import type { DocumentFill } from '../capture/context.js';

/** Bytes of the fixed parts of a request document, of its HTTP request and of a model log, as JSON. */
export const DOCUMENT_OVERHEAD = 400;
export const REQUEST_OVERHEAD = 400;
export const MODEL_LOG_OVERHEAD = 260;

/**
 * The limits of one request document, applied to what a scope's document holds so far (its `documentFill`, kept
 * with the scope since late events are appended to the same document): what does not fit goes to the mirror
 * collections instead.
 */
export class SizeBudget {
  constructor(
    private readonly maxBytes: number,
    private readonly maxModelLogs: number,
  ) {}

  /** Counts a part the document always holds (its HTTP request). */
  add(fill: DocumentFill, bytes: number): void {
    fill.bytes += bytes;
  }

  /** Takes room for a model log when it fits; false when it must spill. */
  takeModelLog(fill: DocumentFill, bytes: number): boolean {
    if (fill.modelLogs >= this.maxModelLogs || DOCUMENT_OVERHEAD + fill.bytes + bytes > this.maxBytes) return false;
    fill.modelLogs++;
    fill.bytes += bytes;
    return true;
  }

  /** Takes room for an action when it fits; false when it must spill. */
  takeAction(fill: DocumentFill, bytes: number): boolean {
    if (DOCUMENT_OVERHEAD + fill.bytes + bytes > this.maxBytes) return false;
    fill.bytes += bytes;
    return true;
  }
}
