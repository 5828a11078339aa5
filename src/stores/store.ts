import type { Readable } from 'node:stream';
import { ActionLogValidationError } from '../shared/errors.js';
import type {
  ActionLogDocument,
  ActivityDocument,
  CheckpointDocument,
  ModelLogDocument,
  RequestAppend,
  RequestDocument,
  StoreBatch,
  StoredAttachment,
} from '../shared/document.js';

export type { CheckpointDocument, RequestAppend, StoreBatch };

/** A page of stored checkpoints: in stored order, past `after` (the `id` of the last one of the previous page). */
export interface CheckpointQuery {
  after?: string;
  limit: number;
}

/** A stored checkpoint and the store's id of it. */
export interface StoredCheckpoint {
  id: string;
  checkpoint: CheckpointDocument;
}

export type SortOrder = 'asc' | 'desc';

/** What a query reads: request documents, actions, model changes (one per model log), or activity feed entries. */
export type EntryKind = 'requests' | 'actions' | 'changes' | 'activities';

/** One stored entry of a kind, as reads return it (keys unescaped). */
export interface EntryOf {
  requests: RequestDocument;
  actions: ActionLogDocument;
  changes: ModelLogDocument;
  activities: ActivityDocument;
}
export type Entry = EntryOf[EntryKind];

/** An equality on a custom field: `details.<name>`, `source.<name>` or `actor.extra.<name>`. */
export interface CustomFieldMatch {
  in: 'details' | 'source' | 'actor.extra';
  name: string;
  value: string | number | boolean;
}

/**
 * A filter as a store receives it: validated and normalized by the logger (see `logger.query`), every field
 * meaningful for the kind it is given with. All given fields must match.
 */
export interface StoreFilter {
  request_uuid?: string;
  correlation_id?: string;
  module?: string;
  /** Who: the request's user (requests, changes), the action's actor, the activity's user. */
  actor_id?: string;
  /** On the kind's time: `timestamp` (requests, changes), `emitted_at` (actions), `activity_date` (activities). */
  from?: Date;
  to?: Date;
  // Actions.
  action_type?: string;
  action_category?: string;
  target_type?: string;
  target_id?: string;
  tag_type?: string;
  tag_ref?: string;
  /** A ref anywhere in `entity_path`. */
  entity_ref?: string;
  custom?: CustomFieldMatch[];
  /** Include soft-deleted (`is_active: false`) actions. */
  include_inactive?: boolean;
  /** Include entries past their `expires_at` not deleted yet (what `verify` checks). Not a read filter of the logger. */
  include_expired?: boolean;
  /**
   * Only the entries a purge with these would delete (see `PurgeQuery`), expired ones included: what
   * `logger.archive` copies. Not a read filter of the logger.
   */
  purgeable?: { expiredAt: Date; before?: Date };
  /** Full-text search over notes and names, where the store can index it. */
  q?: string;
  // Changes, and requests that made them.
  model?: string;
  /** A record's id; `null` finds the summary entries of query-level writes past `maxDocumentsPerQuery`. */
  model_id?: string | null;
  // Changes.
  /** `Created`, `Updated`, `Deleted`, `SoftDeleted`, `Restored`. */
  action?: string;
  /** A dotted path among `changed_fields`. */
  changed_field?: string;
  // Requests.
  method?: string;
  route?: string;
  status?: number;
}

/**
 * Where an entry sits: its time and the store's id of it (the order of `query`), and the store's sequence of
 * writes (the order of `tail`). Opaque strings to everyone but the store that made them.
 */
export interface EntryPosition {
  time: Date;
  id: string;
  seq: string;
}

/** What `checkPosition` says, and `query` throws, of a position this store cannot have made. */
export const FOREIGN_POSITION = 'is not a cursor of this store';

/** The error of a position found wrong, naming the read option it came in (`cursor`, `after`). */
export function positionError(problem: string, field = 'cursor'): ActionLogValidationError {
  return new ActionLogValidationError([{ path: field, message: problem }], 'read options');
}

/** One entry with its position. */
export interface StoredEntry<K extends EntryKind = EntryKind> {
  entry: EntryOf[K];
  position: EntryPosition;
}

export interface StoreQuery<K extends EntryKind = EntryKind> {
  kind: K;
  filter: StoreFilter;
  /**
   * `time`: by (time, id) in `order`, entries strictly past `after` (as `query` pages). `stored`: in the order the
   * store made them visible, past `after.seq`, and only entries no write still in flight can precede (as `tail`
   * follows): a write that commits later never lands behind one already returned. `tail` reads `stored` ascending,
   * and once descending with limit 1 to find where now is.
   */
  by: 'time' | 'stored';
  order: SortOrder;
  limit: number;
  after?: EntryPosition;
}

/** What `facets` counts: distinct values of one field of a kind, most frequent first. */
export interface FacetQuery {
  kind: EntryKind;
  /** `actor_id`, `action_type`, `action_category`, `target_type`, `tag_type`, `model`, `module`, `action`... */
  field: FacetField;
  filter: StoreFilter;
  limit: number;
  /** Values past this one in (count desc, value asc) order. */
  after?: FacetCount;
}

export type FacetField = 'actor_id' | 'module' | 'action_type' | 'action_category' | 'target_type' | 'tag_type' | 'model' | 'action';

export interface FacetCount {
  value: string;
  count: number;
}

/**
 * What `purge` deletes of one kind: entries expired by `expiredAt` (their `expires_at` at or before it), and, with
 * `before`, entries whose time (as `from`/`to` use it) is before it. At most `limit` of them per call.
 */
export interface PurgeQuery {
  kind: EntryKind;
  expiredAt: Date;
  before?: Date;
  limit: number;
}

/** Facts about the logger a store may use when it starts (indexes, TTL). */
export interface StoreInfo {
  actionLogs: boolean;
  modelLogs: boolean;
  /** Documents carry `expires_at` (option `retentionDays`): a store may expire them itself (MongoDB TTL index). */
  retention: boolean;
  /**
   * Option `latestActions`: besides storing them, `write` keeps the newest action of each (actor, action type) for
   * `latestAction`. Absent means false.
   */
  latestActions?: boolean;
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
  /**
   * Entries of one kind that match, in the query's order, after its position, at most `limit`. Like `count` and
   * `facets`, never an expired entry (`expires_at` now or past), whether or not it is deleted yet.
   */
  query<K extends EntryKind>(query: StoreQuery<K>): Promise<Array<StoredEntry<K>>>;
  /**
   * What is wrong with a position a cursor brings back, undefined when this store could have made it; the reader
   * asks before its first read. Optional: without it, such a position is refused only when `query` reads it.
   */
  checkPosition?(position: EntryPosition): string | undefined;
  /** How many entries of a kind match. */
  count(kind: EntryKind, filter: StoreFilter): Promise<number>;
  /** Distinct values of a field with their counts. */
  facets(query: FacetQuery): Promise<FacetCount[]>;
  /**
   * Calls `onWrite` when entries may have been stored by anyone (this process or another: a change stream, a
   * notification); returns how to stop. Optional: `tail` polls without it, and only wakes sooner with it.
   */
  watch?(onWrite: () => void): () => void;
  /**
   * Deletes at most `limit` entries of a kind that `query` names (see `PurgeQuery`) and says how many: each call
   * commits on its own, so `logger.purge` calls it until fewer come back, and a rerun after a kill goes on.
   * Optional: `logger.purge` refuses to run on a store without it.
   */
  purge?(query: PurgeQuery): Promise<number>;
  /**
   * Deletes the entries of a kind with these position ids (`StoredEntry.position.id`) and says how many: what
   * `logger.archive` calls for a batch once its copy is confirmed. Optional: archive refuses a store without it.
   */
  remove?(kind: EntryKind, ids: string[]): Promise<number>;
  /**
   * Marks the action entry with this id (`String(entry._id)` of a read) inactive (`is_active: false`); false when
   * there is no such entry. Optional: `logger.deactivate` refuses to run on a store without it.
   */
  deactivate?(id: string): Promise<boolean>;
  /**
   * The newest action of this actor (`actor_id`) and action type among those `write` stored since `init` said
   * `latestActions`: kept per pair by time (`emitted_at`, on a tie the greater id), whichever write came first, also
   * across processes. Null when there is none, or when that action is expired or inactive (an older one does not
   * take its place here). Optional: `latestActions: true` refuses a store without it.
   */
  latestAction?(actorId: string, actionType: string): Promise<StoredEntry<'actions'> | null>;
  /**
   * Stores the bytes of attachments, before the entries that name them are written (the writer's step before the
   * batch); idempotent by `id`, a retry storing each once. Optional: `record()` with attachments refuses a store
   * without it (and without `readAttachment` and `purgeAttachments`, which go with it).
   */
  putAttachments?(attachments: StoredAttachment[]): Promise<void>;
  /** The bytes of the attachment with this id, as a stream; null when there is none (or it expired). */
  readAttachment?(id: string): Promise<Readable | null>;
  /**
   * Deletes at most `limit` attachments expired by `expiredAt` or whose `timestamp` is before `before`, and says
   * how many: `logger.purge` calls it after the entries, a batch at a time, until none is left.
   */
  purgeAttachments?(query: Omit<PurgeQuery, 'kind'>): Promise<number>;
  /**
   * Stores a signed checkpoint of tamper evidence (option `integrity`); one whose `uid` is stored already is left as
   * it is (a retry). Optional: integrity refuses a store without it.
   */
  writeCheckpoint?(checkpoint: CheckpointDocument): Promise<void>;
  /** Stored checkpoints, a page at a time, in stored order: what `verify` reads. */
  checkpoints?(query: CheckpointQuery): Promise<StoredCheckpoint[]>;
  /** Releases what the store opened itself; never closes a connection it was given. */
  close(): Promise<void>;
}
