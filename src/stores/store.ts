import type {
  ActionEntry,
  ActionLogDocument,
  ActivityDocument,
  ModelLog,
  ModelLogDocument,
  RequestDocument,
} from '../document.js';

/**
 * What the writer hands a store in one call. A retry passes the very same objects: a store may stamp
 * its ids on them (as the MongoDB driver does with `_id`) to make the retry idempotent. The objects are
 * the store's from then on: the writer never reads or changes them again.
 */
export interface StoreBatch {
  requests: RequestDocument[];
  /** The `action_logs` mirror, when enabled. */
  actionLogs: ActionLogDocument[];
  /** The `model_logs` mirror, when enabled, and model logs spilled out of their request document. */
  modelLogs: ModelLogDocument[];
  activities: ActivityDocument[];
}

/** Events recorded after their request document went to the writer, to add to that document. */
export interface RequestAppend {
  /** Idempotency key: an append applied twice is stored once. */
  append_id: string;
  request_uuid: string;
  module: string;
  model_logs: ModelLog[];
  actions: ActionEntry[];
  /** Model logs of this append that went to `model_logs` instead. */
  model_logs_spilled: number;
  /** Actions of this append that went only to `action_logs`. */
  actions_spilled: number;
}

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
}

/**
 * Where documents go. Small on purpose: implement it to send audit documents anywhere.
 * Writes must be idempotent under retry; reads return documents with their keys unescaped.
 */
export interface Store {
  /** Called once before the first write (create tables, indexes...). */
  init?(info: StoreInfo): Promise<void>;
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
