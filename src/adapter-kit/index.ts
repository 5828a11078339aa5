// actionlog/adapter-kit: what framework and ORM adapters are built from, ours and third parties' alike.

// HTTP: one middleware per framework is a request reader plus this capture.
export { HttpCapture, contextOf, moduleOfRoute, type HttpOptions, type HttpRequestReader } from './http-capture.js';
export { SseTail, type TailRouteOptions } from './sse-tail.js';
export { REQUEST_ID, resolveRequestId, correlationIdOf, traceIdOf } from '../capture/ids.js';
export type { ScopeInit, ScopeEnding, CapturedRequest, RunOutcome } from '../capture/context.js';

// ORMs: the options every adapter takes, which models it records, changes held until their transaction commits.
export type { ModelChange } from '../capture/model-change.js';
export { adapterOptionsShape, ModelSelection, type AdapterOptions, type ModelRef } from './model-selection.js';
export { TransactionBuffer, recordPending, type PendingAction, type PendingChange } from './transaction-buffer.js';
export { assertLogger, guard } from './guard.js';

// Inline stamps (FORMAT §4): the fields every ORM declares, and the rules of soft delete and the request workflows.
export {
  REQUEST_STATUSES,
  STAMP_FIELDS,
  STAMP_FIELD_NAMES,
  type RequestStatus,
  type StampField,
  type StampFields,
  type StampKind,
  type StampValues,
} from './stamp-fields.js';
export { workflowTransition, type WorkflowRecord, type WorkflowRequest, type WorkflowStep, type WorkflowTransition } from './workflow.js';
export { parseOptions } from '../shared/parse-options.js';
export { finishesWithin } from '../shared/deadline.js';

// Values: copies, comparisons and stored keys, as the core makes them.
export { copyDocument } from '../shared/copy.js';
export { diffObjects, isOmittedPath, sameValue } from '../build/diff.js';
export { escapeKey, unescapeKey, unescapeKeys } from '../build/sanitize/keys.js';

// Stores: the tables every store keeps, and better-sqlite3 statements prepared once (shared with SqlStore).
export {
  TABLES,
  DEFAULT_PREFIX,
  sqlIndexName,
  type TableKey,
  type TableSpec,
  type ColumnSpec,
  type ColumnKind,
  type IndexSpec,
} from '../stores/tables.js';
export {
  columnsOn,
  CURRENT_TXID,
  indexesOn,
  migrateSchema,
  oneTableStatements,
  quoteName,
  revertSchema,
  runProgram,
  sqlTableNames,
  type SqlTables,
} from '../stores/sql/sql-schema.js';
export { searchStatements, unsplitSearchStatements } from '../stores/sql/sql-search.js';
export { betterSqliteOf, preparedStatement, type BetterSqliteLike, type SqliteStatement } from '../stores/sql/sqlite-statements.js';
