import type { Raw } from './mongoose-types.js';
import type { WriteScope } from './recorder.js';

/** What one document write did: absent before (created), absent after (deleted), or both states. */
export interface WriteOutcome {
  before: Raw | null;
  after: Raw | null;
  /** An existing document whose old state is unknown (another writer moved the match): an update all the same. */
  beforeUnknown?: boolean;
}

/** What a query write knows between its hooks. */
export interface QueryState extends WriteScope {
  /** The documents the write may touch, read before it. */
  before: Raw[];
  overflow: boolean;
  /** Set when the write was sent as findAndModify: its reply told what it did, and only this is recorded. */
  outcome?: WriteOutcome;
}
