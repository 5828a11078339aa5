// actionlog: what an application uses. Adapters are built from `actionlog/adapter-kit`.
export { createActionLogger, ActionLogger, type RunMeta } from './logger.js';
export type { ActionLoggerOptions } from './options.js';
export type { HealthOptions, HealthReport } from './health.js';
export type { ClosableServer, ShutdownOptions } from './shutdown.js';
export type { HeldEvent } from './strict-writes.js';
export type { RequestContext } from './capture/context.js';
export type { ActionInput } from './capture/action/schema.js';
export type { NativeActionInput } from './capture/action/native-shape.js';
export type { ServiceActionInput } from './capture/action/service-shape.js';
export type { AuditLogActionInput } from './capture/action/audit-log-shape.js';
export type { ActivityInput } from './capture/activity.js';
export { defaultDescribeUser, type DescribeUser } from './capture/user.js';
export { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_KEYS, REDACTED } from './build/sanitize/redactor.js';
export type { SpoolStats, WriterStats } from './write/batch-writer.js';
export type { QuarantinedDocument } from './write/write-step.js';
export type * from './shared/document.js';
export { isObjectId, userIdText } from './shared/document.js';
export {
  ActionLogError,
  ActionLogConfigError,
  ActionLogValidationError,
  ActionLogClosedError,
  ActionLogStoreError,
  ActionLogQueueFullError,
  ActionLogSpoolFullError,
  ActionLogQuarantineError,
  ActionLogWorkflowError,
  ActionLogAnchorTimeoutError,
  type AnchorTimeoutDetails,
  type RemovedCounts,
  type ValidationIssue,
} from './shared/errors.js';
export type {
  Store,
  PurgeQuery,
  StoreInfo,
  StoreQuery,
  StoreFilter,
  StoredEntry,
  EntryPosition,
  EntryKind,
  EntryOf,
  Entry,
  CustomFieldMatch,
  FacetQuery,
  FacetField,
  FacetCount,
  SortOrder,
  CheckpointQuery,
  StoredCheckpoint,
} from './stores/store.js';
export type { PurgeCounts, PurgeOptions, PurgeResult } from './stores/purge.js';
export type { AttachmentData, AttachmentInput } from './capture/action/attachments.js';
export type { ArchiveOptions } from './stores/archive.js';
export type { DeactivateOptions } from './capture/action/deactivation.js';
export type { QueryFilter } from './read/filter.js';
export type { Page, PageOptions, HistoryItem, ExportOptions } from './read/reader.js';
export { type ExportStream, DEFAULT_COLUMNS } from './read/export.js';
export type { TailItem, TailOptions } from './read/tail.js';
export { humanize, type LabelKind, type Labels } from './read/labels.js';
export { asAuditizeLog, asAuditLogObject, asServiceEntry } from './read/source-shapes.js';
export type { RecordState } from './read/state-at.js';
export { diff, type FieldChange } from './build/diff.js';
export { MemoryStore } from './stores/memory/memory-store.js';
export { MongoStore, type MongoStoreOptions, type MongoCollectionNames } from './stores/mongo/mongo-store.js';
export type { MongoDbLike, MongoClientLike, MongoConnectionLike } from './stores/mongo/mongo-types.js';
export { SqlStore, type SqlStoreOptions } from './stores/sql/sql-store.js';
export type { SqlTables } from './stores/sql/sql-schema.js';
export type { SqlDataSourceLike } from './stores/sql/sql-types.js';
export type { IntegrityOptions } from './options.js';
export type { SigningKey, VerifyingKey } from './build/integrity/checkpoint-keys.js';
export type { VerifyFinding, VerifyOptions, VerifyProblem, VerifyReport, VerifyStatus, VerifySummary } from './read/verify.js';
