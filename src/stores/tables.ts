/**
 * The collections every store keeps, defined once (the four of the trail; `action_latest`, only in use with
 * `latestActions`; the signed checkpoints of tamper evidence): the SQL store's columns and the TypeORM entities (in
 * `actionlog/typeorm`) derive from these columns, the SQL and MongoDB indexes from these index lists.
 */

/**
 * How a column is stored: text of a bounded length, long text, JSON, a date, a boolean, an integer, the row id, or
 * `txid`: the id of the transaction that wrote the row (PostgreSQL only: the store's stored order, see `SqlStore`).
 */
export type ColumnKind = 'id' | 'text' | 'long-text' | 'json' | 'date' | 'bool' | 'int' | 'txid' | 'blob';

export interface ColumnSpec {
  kind: ColumnKind;
  /** Longest text, for `text` columns. */
  length?: number;
  /** Default true. */
  nullable?: boolean;
  default?: boolean;
}

export interface IndexSpec {
  /** Indexed fields, in order; `-1` sorts newest first where the store honours it (MongoDB). */
  fields: ReadonlyArray<readonly [string, 1 | -1]>;
  unique?: boolean;
  /** Only in this kind of store: SQL rows carry derived columns (`uid`, `user_id`) MongoDB does not need. */
  only?: 'sql' | 'mongo';
  /** MongoDB's name for it, where it is not the fields joined by `_`. */
  mongoName?: string;
  /** MongoDB: leave out documents without the field. */
  sparse?: boolean;
  /** PostgreSQL: a GIN index (`jsonb_path_ops`) over a jsonb column, for containment filters; none on SQLite. */
  using?: 'gin';
}

export interface TableSpec {
  /** Default SQL table and MongoDB collection name. */
  name: string;
  /** TypeORM entity name. */
  entity: string;
  columns: Readonly<Record<string, ColumnSpec>>;
  indexes: readonly IndexSpec[];
  /** Where a SQL column's value lives in a MongoDB document, when not at the top. */
  mongoPaths?: Readonly<Record<string, string>>;
}

export type TableKey = 'requests' | 'actionLogs' | 'modelLogs' | 'activities' | 'latestActions' | 'checkpoints';

/** Prefix of table and collection names in new installs (`actionlog_requests`). */
export const DEFAULT_PREFIX = 'actionlog_';

const id: ColumnSpec = { kind: 'id', nullable: false };
const text = (length: number, nullable = true): ColumnSpec => ({ kind: 'text', length, nullable });
const json = (nullable = true): ColumnSpec => ({ kind: 'json', nullable });
const date = (nullable = true): ColumnSpec => ({ kind: 'date', nullable });
/** The id a row gets from its document on the first write attempt, so that a retry is recognised (SQL only). */
const uid = text(36, false);
/** PostgreSQL: the writing transaction, for reading in the order rows became visible (absent on SQLite). */
const txid: ColumnSpec = { kind: 'txid', nullable: false };
const NEWEST: -1 = -1;
/** An SQL index of a kind's time and row id: keyset pages by (time, id) in either order. */
const byTime = (...fields: string[]): IndexSpec => ({ fields: [...fields, 'id'].map((f) => [f, 1] as const), only: 'sql' });
/** An SQL GIN index over a jsonb column (PostgreSQL). */
const gin = (field: string): IndexSpec => ({ fields: [[field, 1]], only: 'sql', using: 'gin' });
/**
 * A mirror entry's `uid`, given when it is built: a retry, a replay or an archive copy of it is stored once. MongoDB:
 * sparse, as entries of versions before 0.2 have none.
 */
const entryUid: IndexSpec = { fields: [['uid', 1]], unique: true, sparse: true, mongoName: 'uid_unique' };
/** SQL: entries by expiry, for `purge` (MongoDB has its TTL index instead, with `retentionDays`). */
const expiresAt: IndexSpec = { fields: [['expires_at', 1]], only: 'sql' };
/** PostgreSQL: rows in the order they became visible (see `txid`). */
const stored: IndexSpec = {
  fields: [
    ['txid', 1],
    ['id', 1],
  ],
  only: 'sql',
};

export const TABLES: Readonly<Record<TableKey, TableSpec>> = {
  requests: {
    name: 'requests',
    entity: 'ActionLogRequest',
    columns: {
      id,
      uid,
      request_uuid: text(200, false),
      module: text(200),
      timestamp: date(),
      correlation_id: text(256),
      user_id: text(256),
      details: json(false),
      integrity: json(),
      expires_at: date(),
      appends: json(),
      // From details, for filters.
      method: { kind: 'long-text' },
      route: { kind: 'long-text' },
      status_code: { kind: 'int' },
      txid,
    },
    indexes: [
      // The server's id is the key; the client's request id may repeat (see RequestDocument.request_uuid).
      { fields: [['uid', 1]], unique: true, mongoName: 'uid_unique' },
      { fields: [['request_uuid', 1]] },
      { fields: [['timestamp', NEWEST]], only: 'mongo' },
      byTime('timestamp'),
      {
        fields: [
          ['module', 1],
          ['timestamp', NEWEST],
        ],
      },
      // Requests by the records they changed (PostgreSQL: a GIN index over the model logs instead, see the migration).
      {
        fields: [
          ['details.model_logs.model', 1],
          ['details.model_logs.model_id', 1],
        ],
        only: 'mongo',
        mongoName: 'model_logs_model_model_id',
      },
      { fields: [['correlation_id', 1]], sparse: true },
      {
        fields: [
          ['user_id', 1],
          ['timestamp', NEWEST],
        ],
        only: 'sql',
      },
      expiresAt,
      stored,
      // MongoDB: requests by their user, who sits in the HTTP request or in the run (SQL: the user_id column).
      {
        fields: [
          ['details.request.user_details._id', 1],
          ['timestamp', NEWEST],
        ],
        only: 'mongo',
        mongoName: 'request_user_timestamp',
      },
      {
        fields: [
          ['details.run.user_details._id', 1],
          ['timestamp', NEWEST],
        ],
        only: 'mongo',
        mongoName: 'run_user_timestamp',
      },
    ],
  },
  actionLogs: {
    name: 'action_logs',
    entity: 'ActionLogAction',
    columns: {
      id,
      uid,
      request_uuid: text(200, false),
      module: text(200),
      action_type: text(200, false),
      action_category: text(200),
      actor_id: text(256),
      actor: json(),
      target_type: text(200),
      target_id: text(256),
      target: json(),
      context: json(),
      note: { kind: 'long-text' },
      source: json(),
      details: json(),
      tags: json(),
      entity_path: json(),
      emitted_at: date(false),
      saved_at: date(),
      is_active: { kind: 'bool', default: true },
      expires_at: date(),
      correlation_id: text(256),
      /** The metadata of its attachments, when it has any (the bytes are in `ATTACHMENTS`). */
      attachments: json(),
      integrity: json(),
      txid,
    },
    indexes: [
      entryUid,
      {
        fields: [
          ['actor_id', 1],
          ['action_type', 1],
        ],
      },
      { fields: [['action_type', 1]] },
      {
        fields: [
          ['target_type', 1],
          ['target_id', 1],
        ],
        only: 'mongo',
      },
      { fields: [['emitted_at', NEWEST]], only: 'mongo' },
      { fields: [['request_uuid', 1]] },
      // SQL: actions by actor, by target and by time, each in (time, id) order for keyset pages.
      byTime('actor_id', 'emitted_at'),
      byTime('target_type', 'target_id', 'emitted_at'),
      byTime('emitted_at'),
      { fields: [['correlation_id', 1]], only: 'sql' },
      gin('tags'),
      gin('entity_path'),
      gin('details'),
      stored,
      // What `purge` deletes first (MongoDB: the TTL index on it, see mongoIndexes).
      expiresAt,
      // MongoDB: actions by actor, type and target in time order (the indexes above that they extend are left out).
      {
        fields: [
          ['actor_id', 1],
          ['emitted_at', NEWEST],
        ],
        only: 'mongo',
      },
      {
        fields: [
          ['action_type', 1],
          ['emitted_at', NEWEST],
        ],
        only: 'mongo',
      },
      {
        fields: [
          ['target_type', 1],
          ['target_id', 1],
          ['emitted_at', NEWEST],
        ],
        only: 'mongo',
      },
    ],
  },
  modelLogs: {
    name: 'model_logs',
    entity: 'ActionLogModelLog',
    columns: {
      id,
      uid,
      request_uuid: text(200, false),
      module: text(200),
      model_id: text(512),
      model_class_name: text(200, false),
      model_namespace: text(400, false),
      model: text(200, false),
      action: text(20, false),
      timestamp: date(false),
      model_details: json(false),
      truncated: { kind: 'bool', default: false },
      expires_at: date(),
      user: json(),
      user_id: text(256),
      correlation_id: text(256),
      integrity: json(),
      txid,
    },
    indexes: [
      entryUid,
      {
        fields: [
          ['model', 1],
          ['model_id', 1],
          ['timestamp', NEWEST],
        ],
        only: 'mongo',
      },
      { fields: [['request_uuid', 1]] },
      { fields: [['timestamp', NEWEST]], only: 'mongo' },
      // SQL: a record's history, changes by user and by time, in (time, id) order.
      byTime('model', 'model_id', 'timestamp'),
      byTime('user_id', 'timestamp'),
      byTime('timestamp'),
      { fields: [['correlation_id', 1]], only: 'sql' },
      stored,
      // What `purge` deletes first (MongoDB: the TTL index on it, see mongoIndexes).
      expiresAt,
      // MongoDB: changes by their user in time order.
      {
        fields: [
          ['user._id', 1],
          ['timestamp', NEWEST],
        ],
        only: 'mongo',
        mongoName: 'user_timestamp',
      },
    ],
  },
  activities: {
    name: 'activity_logs',
    entity: 'ActionLogActivity',
    columns: {
      id,
      uid,
      user: json(false),
      user_id: text(256),
      ip_address: text(100),
      action: text(1000, false),
      activity_date: date(false),
      link_preview: text(2048),
      request_uuid: text(200),
      expires_at: date(),
      integrity: json(),
      txid,
    },
    indexes: [
      entryUid,
      {
        fields: [
          ['user_id', 1],
          ['activity_date', NEWEST],
        ],
        mongoName: 'user_activity_date',
      },
      { fields: [['request_uuid', 1]] },
      byTime('activity_date'),
      stored,
      // What `purge` deletes first (MongoDB: the TTL index on it, see mongoIndexes).
      expiresAt,
      // MongoDB: activities in time order.
      { fields: [['activity_date', NEWEST]], only: 'mongo' },
    ],
    mongoPaths: { user_id: 'user._id' },
  },
  // Option `latestActions`: the newest action of each (actor, action type), beside the full history. A row points at
  // its action (SQL: the action row's `uid`; MongoDB: its `_id` as text, and `action_id` the `_id` itself), and is
  // replaced only by an action with a later `emitted_at` (on a tie, a greater `action_uid`), whatever the order of
  // arrival.
  latestActions: {
    name: 'action_latest',
    entity: 'ActionLogLatestAction',
    columns: {
      id,
      actor_id: text(256, false),
      action_type: text(200, false),
      emitted_at: date(false),
      action_uid: text(64, false),
      expires_at: date(),
    },
    indexes: [
      {
        fields: [
          ['actor_id', 1],
          ['action_type', 1],
        ],
        unique: true,
        mongoName: 'actor_id_action_type_unique',
      },
      expiresAt,
    ],
  },
  // Tamper evidence: each writer's signed checkpoints (see CheckpointDocument), read whole by `verify`.
  checkpoints: {
    name: 'checkpoints',
    entity: 'ActionLogCheckpoint',
    columns: {
      id,
      uid: text(100, false),
      chain: text(64, false),
      number: { kind: 'int', nullable: false },
      at: date(false),
      heads: json(false),
      merkle_root: text(64),
      from_seq: { kind: 'int' },
      pruned: json(false),
      closed: { kind: 'bool', default: false },
      prev: text(64, false),
      hash: text(64, false),
      signature: json(false),
    },
    indexes: [
      { fields: [['uid', 1]], unique: true, mongoName: 'uid_unique' },
      {
        fields: [
          ['chain', 1],
          ['number', 1],
        ],
      },
    ],
  },
};

/**
 * SQL: the bytes of attachments, one row each, apart from the four collections of entries (whose actions hold their
 * metadata). MongoDB keeps them in a GridFS bucket instead (see `MongoAttachments`). Not a TypeORM entity: the
 * store and the migrations create it.
 */
export const ATTACHMENTS: TableSpec = {
  name: 'attachments',
  entity: 'ActionLogAttachment',
  columns: {
    id,
    attachment_id: text(36, false),
    name: text(1000, false),
    type: text(200, false),
    mime_type: text(255, false),
    size: { kind: 'int', nullable: false },
    sha256: text(64, false),
    data: { kind: 'blob', nullable: false },
    timestamp: date(false),
    expires_at: date(),
  },
  indexes: [{ fields: [['attachment_id', 1]], unique: true }, { fields: [['timestamp', 1]] }, expiresAt],
};

/** The SQL name of an index: its table and fields. */
export function sqlIndexName(table: string, index: IndexSpec): string {
  return `${table}_${index.fields.map(([field]) => field).join('_')}`;
}
