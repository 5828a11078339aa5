/** Bytes of the fixed parts of a request document, of its HTTP request and of a model log, as JSON. */
export const DOCUMENT_OVERHEAD = 400;
export const REQUEST_OVERHEAD = 400;
export const MODEL_LOG_OVERHEAD = 260;

/**
 * What one request document holds so far, so that it stays under its budget: what does not fit goes to the
 * mirror collections instead. Kept for the life of the scope, since late events are appended to the same document.
 */
export class SizeBudget {
  private bytes = DOCUMENT_OVERHEAD;
  private modelLogs = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxModelLogs: number,
  ) {}

  /** Counts a part the document always holds (its HTTP request). */
  add(bytes: number): void {
    this.bytes += bytes;
  }

  /** Takes room for a model log when it fits; false when it must spill. */
  takeModelLog(bytes: number): boolean {
    if (this.modelLogs >= this.maxModelLogs || this.bytes + bytes > this.maxBytes) return false;
    this.modelLogs++;
    this.bytes += bytes;
    return true;
  }

  /** Takes room for an action when it fits; false when it must spill. */
  takeAction(bytes: number): boolean {
    if (this.bytes + bytes > this.maxBytes) return false;
    this.bytes += bytes;
    return true;
  }
}
