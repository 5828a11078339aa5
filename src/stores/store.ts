import type {
  ActionLogDocument,
  ActivityDocument,
  ModelLogDocument,
  RequestAppend,
  RequestDocument,
  StoreBatch,
} from '../shared/document.js';

export type { RequestAppend, StoreBatch };

export type SortOrder = 'asc' | 'desc';

interface Page {
  /** Default 100. */
  limit?: number;
  offset?: number;
  /** By time; default `desc` (newest first). */
  order?: SortOrder;
}

export interface RequestQuery extends Page {
  request_uuid?: string;
  module?: string;
  correlation_id?: string;
  /** `_id` of the user of the request or run. */
  user_id?: string;
  /** Requests that changed a record of this model (collection or table name)... */
  model?: string;
  /** ...with this id. */
  model_id?: string;
  from?: Date;
  to?: Date;
}

export interface ActionQuery extends Page {
  request_uuid?: string;
  actor_id?: string;
  action_type?: string;
  action_category?: string;
  target_type?: string;
  target_id?: string;
  from?: Date;
  to?: Date;
  /** Include soft-deleted (`is_active: false`) actions. */
  include_inactive?: boolean;
}

export interface ModelLogQuery extends Page {
  request_uuid?: string;
  model?: string;
  model_id?: string;
  from?: Date;
  to?: Date;
}

export interface ActivityQuery extends Page {
  user_id?: string;
  request_uuid?: string;
  from?: Date;
  to?: Date;
}

/** Facts about the logger a store may use when it starts (indexes, TTL). */
export interface StoreInfo {
  actionLogs: boolean;
  modelLogs: boolean;
  /** Documents carry `expires_at` (option `retentionDays`): a store may expire them itself (MongoDB TTL index). */
  retention: boolean;
  /** Reports something the application should know but that does not stop the store (to `onError`). */
  warn: (warning: Error) => void;
}

/**
 * Where documents go. Small on purpose: implement it to send audit documents anywhere.
 * Writes must be idempotent under retry; reads return documents with their keys unescaped.
 */
export interface Store {
  /** Called once before the first write (create tables, indexes...). */
  init?(info: StoreInfo): Promise<void>;
  /**
   * Resolves when the store answers (a round trip that writes nothing). The writer asks it after a failed write:
   * to end a backoff as soon as the store is back, and to tell a document the store refuses from an outage.
   */
  ping?(): Promise<void>;
  write(batch: StoreBatch): Promise<void>;
  /** Adds late events to request documents, also when the document itself has not arrived yet. */
  append(appends: RequestAppend[]): Promise<void>;
  findRequests(query?: RequestQuery): Promise<RequestDocument[]>;
  findActions(query?: ActionQuery): Promise<ActionLogDocument[]>;
  findModelLogs(query?: ModelLogQuery): Promise<ModelLogDocument[]>;
  findActivities(query?: ActivityQuery): Promise<ActivityDocument[]>;
  /** Releases what the store opened itself; never closes a connection it was given. */
  close(): Promise<void>;
}

export const DEFAULT_QUERY_LIMIT = 100;
