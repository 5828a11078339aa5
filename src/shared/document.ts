/** Stored shapes. Field names are the stored names: snake_case. */

export type ModelAction = 'Created' | 'Updated' | 'Deleted' | 'SoftDeleted' | 'Restored';

/** A BSON ObjectId, of whichever copy of the driver made it (the core never imports one). */
export interface ObjectIdLike {
  readonly _bsontype: 'ObjectId';
  toHexString(): string;
}

/** A user's id as given: a string, a number, or an ObjectId (kept as one, so `$lookup` from `lookup_from` matches it). */
export type UserId = string | number | ObjectIdLike;

/** A reference to a user, as stored (`user_details`, stamps, activity feed). */
export interface UserRef {
  lookup_from: string;
  _id: UserId;
  label: string;
  email?: string;
}

/** Whether a value is a BSON ObjectId. */
export const isObjectId = (value: unknown): value is ObjectIdLike =>
  typeof value === 'object' &&
  value !== null &&
  (value as { _bsontype?: unknown })._bsontype === 'ObjectId' &&
  typeof (value as { toHexString?: unknown }).toHexString === 'function';

/** A user id as text (an ObjectId as its hex): what the flat `user_id` columns and the `actor_id` filter hold. */
export const userIdText = (id: UserId): string => (isObjectId(id) ? id.toHexString() : String(id));

export interface ModelLog {
  model_id: string | null;
  model_class_name: string;
  model_namespace: string;
  model: string;
  action: ModelAction;
  timestamp: Date;
  model_details: {
    old_object: Record<string, unknown> | null;
    new_object: Record<string, unknown> | null;
    changed_fields: string[];
    /** Paths left out of both states (the adapter's `omit`), when any were. */
    omitted?: string[];
    /** Present on the summary entry of a query that touched more than `maxDocumentsPerQuery` documents. */
    query?: { filter: unknown; update: unknown; matched: number };
  };
  /** True on a summary entry. */
  truncated?: boolean;
}

/** Who acted. `ref` keeps the type it was given with (`actor_id` holds its text); `extra` is a list of custom fields or a free object, as given. */
export interface ActorRef {
  ref: string | number;
  type: string;
  name: string;
  extra?: CustomField[] | Record<string, unknown>;
}

/** What was acted on. `id` keeps the type it was given with (`target_id` holds its text); absent when only a type was given. */
export interface TargetRef {
  type: string;
  id?: string | number;
  name?: string;
  /** Auditize's `resource.extra`. */
  extra?: CustomField[];
}

export type CustomFieldType = 'string' | 'enum' | 'json' | 'datetime' | 'boolean' | 'integer' | 'float';

export interface CustomField {
  name: string;
  value: string | number | boolean;
  type: CustomFieldType;
}

export interface Tag {
  type: string;
  ref?: string;
  name?: string;
}

export interface EntityPathItem {
  ref: string;
  name: string;
}

export interface SourceRef {
  type: string;
  ref?: string;
  name?: string;
}

/** An explicit action, stored flat for indexing with the rich objects beside. */
export interface ActionEntry {
  action_type: string;
  action_category: string | null;
  actor_id: string | null;
  actor: ActorRef | null;
  target_type: string | null;
  target_id: string | null;
  target: TargetRef | null;
  context: Record<string, unknown> | null;
  note: string | null;
  /** `{ type, ref?, name? }`, or Auditize's list of custom fields. */
  source: SourceRef | CustomField[] | null;
  /** A list of custom fields, or a free object kept as given (the ActionLog service's `details`). */
  details: CustomField[] | Record<string, unknown>;
  tags: Tag[];
  entity_path: EntityPathItem[] | null;
  emitted_at: Date;
  saved_at: Date | null;
  is_active: boolean;
  /** What was attached (`record()` with `attachments`); the bytes are stored apart, read by `logger.attachment(id)`. */
  attachments?: AttachmentMeta[];
}

/** An attachment as its action entry holds it: its bytes are stored apart, under `id`. */
export interface AttachmentMeta {
  /** A uuid given when the action was recorded: `logger.attachment(id)` reads the bytes. */
  id: string;
  name: string;
  type: string;
  mime_type: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the bytes, hex. */
  sha256: string;
}

/**
 * The bytes of an attachment with what a store keeps beside them. A store writes it before the entries that name it,
 * and keeps it at least as long as them: `timestamp` is no earlier than theirs, `expires_at` no earlier (or absent).
 */
export interface StoredAttachment extends AttachmentMeta {
  data: Buffer;
  /** What `purge({ before })` judges it by. */
  timestamp: Date;
  expires_at?: Date;
}

export interface RequestDetails {
  method: string;
  url: string;
  route: string | null;
  ip: string | null;
  user_agent: string | null;
  body: unknown;
  headers: Record<string, unknown>;
  user_details: UserRef | null;
}

export interface ResponseDetails {
  status_code: number | null;
  duration_ms: number;
  aborted: boolean;
}

/** Set on documents of `logger.run()` scopes, which have no HTTP request. */
export interface RunDetails {
  user_details: UserRef | null;
  metadata: Record<string, unknown> | null;
  duration_ms: number;
  error: { name: string; message: string } | null;
}

export interface RequestDocument {
  _id?: unknown;
  /** The server's id of this document (a uuid, unique): late events find their document by it. */
  uid: string;
  /** The id the client sent (`X-Request-Id`), or a new uuid: a claim other requests may share, kept for correlation. */
  request_uuid: string;
  module: string;
  timestamp: Date;
  details: {
    request: RequestDetails | null;
    response: ResponseDetails | null;
    run?: RunDetails;
    model_logs: ModelLog[];
    actions: ActionEntry[];
    /** How many model logs went to the `model_logs` collection instead of this document. */
    model_logs_spilled?: number;
    /** How many actions went only to the `action_logs` collection (size budget). */
    actions_spilled?: number;
  };
  correlation_id?: string;
  /** Its link in its writer's chain, and one link per late append stored into it (tamper evidence, when on). */
  integrity?: RequestIntegrity;
  expires_at?: Date;
}

/** One document of the `action_logs` mirror. */
export interface ActionLogDocument extends ActionEntry {
  _id?: unknown;
  /** The server's id of this entry (a uuid given when it is built): a retry, replay or archive copy is stored once. */
  uid?: string;
  request_uuid: string;
  module: string;
  /** The correlation id of the action's request, when it had one. */
  correlation_id?: string;
  integrity?: IntegrityLink;
  expires_at?: Date;
}

/** One document of the `model_logs` mirror (also where spilled model logs go). */
export interface ModelLogDocument extends ModelLog {
  _id?: unknown;
  /** The server's id of this entry (a uuid given when it is built): a retry, replay or archive copy is stored once. */
  uid?: string;
  request_uuid: string;
  module: string;
  /** Who made the change: the user of its request or run (null for none, and in entries of versions before 0.2). */
  user?: UserRef | null;
  /** The correlation id of the change's request, when it had one. */
  correlation_id?: string;
  integrity?: IntegrityLink;
  expires_at?: Date;
}

/** One document of the `activity_logs` feed. */
export interface ActivityDocument {
  _id?: unknown;
  /** The server's id of this entry (a uuid given when it is built): a retry, replay or archive copy is stored once. */
  uid?: string;
  user: UserRef;
  ip_address: string | null;
  action: string;
  activity_date: Date;
  link_preview: string | null;
  request_uuid: string | null;
  integrity?: IntegrityLink;
  expires_at?: Date;
}

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
  /** The `uid` of the document the events belong to. */
  uid: string;
  request_uuid: string;
  module: string;
  model_logs: ModelLog[];
  actions: ActionEntry[];
  /** Model logs of this append that went to `model_logs` instead. */
  model_logs_spilled: number;
  /** Actions of this append that went only to `action_logs`. */
  actions_spilled: number;
  /** Its link in the writer's chain (tamper evidence), pushed to the document's `integrity.appends`. */
  integrity?: AppendLink;
  /**
   * With retention: when the request expires for what this append holds. A store keeping the events before their
   * document arrives (a placeholder) gives it this expiry, so that a purge deletes it if the document never comes.
   */
  expires_at?: Date;
}

/**
 * A document's link in its writer's chain: `hash` = SHA-256 of the canonical JSON of the document without
 * `integrity`, followed by `prev` (the hash of the chain's previous entry; 64 zeros before the first).
 */
export interface IntegrityLink {
  /** The writer's chain id (random per logger). */
  chain: string;
  /** 1, 2, 3... in the order the writer sealed its entries. */
  seq: number;
  prev: string;
  hash: string;
  /** In an archive store's copy, which keeps no `expires_at`: the one the entry was sealed with, which its hash covers. */
  expires_at?: Date | string;
}

/** A late append's link: which tail of the document's `model_logs` and `actions` it added. */
export interface AppendLink extends IntegrityLink {
  append_id: string;
  model_logs: number;
  actions: number;
  model_logs_spilled: number;
  actions_spilled: number;
}

/** A request document's integrity: its own link (absent on a stub of appends whose document has not arrived). */
export interface RequestIntegrity extends Partial<IntegrityLink> {
  appends?: AppendLink[];
}

/** What a checkpoint's signature is: Ed25519, or HMAC-SHA-256 (weaker: whoever can verify can also sign). */
export type SignatureAlgorithm = 'ed25519' | 'hmac-sha256';

/** A chain's newest link at a checkpoint. */
export interface ChainHead {
  chain: string;
  seq: number;
  hash: string;
}

/** Sequences of a chain deleted on purpose (purge, archive), as a retention checkpoint records them. */
export interface PrunedRange {
  chain: string;
  from: number;
  to: number;
  /** Moved by `archive` rather than deleted by `purge`: `verify` given the archives finds them there. */
  archived?: true;
  /**
   * Never stored: the writer gave up on them (the store failed past the retries, or refused them), as it reported
   * then. `verify` names them `lost`.
   */
  lost?: true;
  /** Of a lost range: the hash of its last link, which the link after it names as `prev`. */
  hash?: string;
}

/**
 * A signed checkpoint (collection/table `checkpoints`): the heads of the chains a writer sealed since its previous
 * checkpoint, a Merkle root over their new hashes, and a link to that previous checkpoint; or, `pruned`, the
 * sequences a purge or an archive deleted, and those the writer lost.
 */
export interface CheckpointDocument {
  _id?: unknown;
  /** `<writer chain>:<number>`: unique. */
  uid: string;
  /** The chain of the writer that made it. */
  chain: string;
  /** 1, 2, 3... per writer. */
  number: number;
  at: Date;
  heads: ChainHead[];
  /** Merkle root (RFC 6962 style) over the hashes sealed since the previous checkpoint, in sequence order; null for none. */
  merkle_root: string | null;
  /** The first sequence the Merkle root covers. */
  from_seq: number | null;
  /** Sequences deleted on purpose, and sequences lost (`lost`). */
  pruned: PrunedRange[];
  /** The writer closed: nothing follows `heads` in its chain. */
  closed: boolean;
  /** `hash` of the writer's previous checkpoint (64 zeros before the first). */
  prev: string;
  /** SHA-256 of the canonical JSON of the checkpoint without `_id`, `hash` and `signature`. */
  hash: string;
  signature: { alg: SignatureAlgorithm; key_id: string; value: string };
}
