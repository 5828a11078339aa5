export { createActionLogger, ActionLogger, type RunMeta } from './logger.js';
export type { ActionLoggerOptions } from './options.js';
export { RequestContext, type ModelChange, type ScopeInit } from './context.js';
export type { ActionInput } from './action.js';
export type { ActivityInput } from './activity.js';
export type * from './document.js';
export {
  ActionLogError,
  ActionLogConfigError,
  ActionLogValidationError,
  ActionLogClosedError,
  ActionLogStoreError,
  ActionLogQueueFullError,
  ActionLogWorkflowError,
  type ValidationIssue,
} from './errors.js';
export type {
  Store,
  StoreBatch,
  StoreInfo,
  RequestAppend,
  RequestQuery,
  ActionQuery,
  ModelLogQuery,
  ActivityQuery,
  SortOrder,
} from './stores/store.js';
export { MemoryStore } from './stores/memory-store.js';
export { MongoStore, type MongoStoreOptions } from './stores/mongo-store.js';
export type { MongoDbLike, MongoClientLike, MongoCollectionLike } from './stores/mongo-types.js';
export { SqlStore, SQL_STORE_ENTITIES, type SqlStoreOptions, type SqlDataSourceLike } from './stores/sql-store.js';
export { diffObjects, isOmittedPath } from './diff.js';
export { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_KEYS, REDACTED } from './sanitize/redactor.js';
export { escapeKey, unescapeKey, unescapeKeys } from './sanitize/keys.js';
export { defaultDescribeUser, type DescribeUser } from './user.js';
export type { WriterStats } from './writer.js';
// For framework adapters (ours and third-party ones).
export { HttpCapture, contextOf, moduleOfRoute, type HttpOptions, type HttpRequestReader } from './http/http-capture.js';
// For ORM adapters: copies of stored or recorded values.
export { copyDocument } from './stores/copy.js';
export { preparedStatement, type BetterSqliteLike, type SqliteStatement } from './stores/sqlite-statements.js';
