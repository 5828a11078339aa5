import { Readable } from 'node:stream';
import type { ActionLogDocument, ActivityDocument, ModelLogDocument, RequestDocument, StoredAttachment } from '../../shared/document.js';
import { unescapeKeys } from '../../build/sanitize/keys.js';
import { copyDocument } from '../../shared/copy.js';
import type {
  CheckpointDocument,
  CheckpointQuery,
  StoredCheckpoint,
  Entry,
  EntryKind,
  EntryOf,
  EntryPosition,
  FacetCount,
  FacetQuery,
  PurgeQuery,
  RequestAppend,
  Store,
  StoreBatch,
  StoredEntry,
  StoreFilter,
  StoreInfo,
  StoreQuery,
} from '../store.js';
import { FOREIGN_POSITION, positionError } from '../store.js';
import { isLater, type LatestCandidate, latestOfBatch, pairKey } from '../latest.js';
import { facetValues, isExpired, matches, timeOf } from './entry-filter.js';
import { newUuid } from '../../shared/uuid.js';
import { byCodePoint } from '../../shared/strings.js';

interface Stored<T> {
  seq: number;
  doc: T;
  /** Late events waiting for their request document, which has not arrived. */
  stub?: boolean;
}

/** A sequence number as a position holds it, which `Number` reads back exactly. */
const SEQ_TEXT = /^\d{1,15}$/;

/** Keeps everything in process memory: for tests, examples and short-lived scripts. */
export class MemoryStore implements Store {
  private seq = 0;
  private readonly watchers = new Set<() => void>();
  /** By `uid`, the server's id: `request_uuid` is only what a client claims, and several may claim one. */
  private readonly requestsByUid = new Map<string, Stored<RequestDocument>>();
  private readonly appliedAppends = new Map<string, Set<string>>();
  /** Option `latestActions`: the newest action of each (actor, action type), by `pairKey`. */
  private latestOn = false;
  private readonly latest = new Map<string, LatestCandidate>();
  private readonly mirrors = {
    actionLogs: new Map<string, Stored<ActionLogDocument>>(),
    modelLogs: new Map<string, Stored<ModelLogDocument>>(),
    activities: new Map<string, Stored<ActivityDocument>>(),
  };
  private readonly attachments = new Map<string, StoredAttachment>();

  async init(info: StoreInfo): Promise<void> {
    // Sticky: a logger without the option sharing this store does not stop it for the one that has it.
    this.latestOn ||= info.latestActions === true;
  }

  private readonly checkpointsByUid = new Map<string, Stored<CheckpointDocument>>();

  async ping(): Promise<void> {}

  async writeCheckpoint(checkpoint: CheckpointDocument): Promise<void> {
    if (this.checkpointsByUid.has(checkpoint.uid)) return;
    stampId(checkpoint);
    this.checkpointsByUid.set(checkpoint.uid, { seq: ++this.seq, doc: checkpoint });
  }

  async checkpoints(query: CheckpointQuery): Promise<StoredCheckpoint[]> {
    const after = query.after === undefined ? 0 : Number(query.after);
    return [...this.checkpointsByUid.values()]
      .filter((row) => row.seq > after)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, query.limit)
      .map((row) => ({ id: String(row.seq), checkpoint: copyDocument(row.doc) }));
  }

  async write(batch: StoreBatch): Promise<void> {
    for (const doc of batch.requests) this.putRequest(doc);
    this.putAll(this.mirrors.actionLogs, batch.actionLogs);
    if (this.latestOn) this.keepLatest(batch.actionLogs);
    this.putAll(this.mirrors.modelLogs, batch.modelLogs);
    this.putAll(this.mirrors.activities, batch.activities);
    this.wake();
  }

  async append(appends: RequestAppend[]): Promise<void> {
    for (const append of appends) {
      const applied = this.appliedAppends.get(append.uid) ?? new Set<string>();
      if (applied.has(append.append_id)) continue;
      applied.add(append.append_id);
      this.appliedAppends.set(append.uid, applied);
      let stored = this.requestsByUid.get(append.uid);
      if (!stored) {
        // The parent has not arrived: keep a stub without timestamp; the parent merges into it.
        const stub = {
          uid: append.uid,
          request_uuid: append.request_uuid,
          module: append.module,
          details: { model_logs: [], actions: [] },
          ...(append.expires_at ? { expires_at: append.expires_at } : {}),
        };
        stored = { seq: ++this.seq, doc: stub as unknown as RequestDocument, stub: true };
        this.requestsByUid.set(append.uid, stored);
      }
      if (append.integrity) {
        const integrity = (stored.doc.integrity ??= {});
        (integrity.appends ??= []).push(append.integrity);
      }
      const details = stored.doc.details;
      details.model_logs.push(...append.model_logs);
      details.actions.push(...append.actions);
      addCount(details, 'model_logs_spilled', append.model_logs_spilled);
      addCount(details, 'actions_spilled', append.actions_spilled);
    }
    this.wake();
  }

  async query<K extends EntryKind>(query: StoreQuery<K>): Promise<Array<StoredEntry<K>>> {
    const { kind, filter, after } = query;
    if (after && this.checkPosition(after)) throw positionError(FOREIGN_POSITION);
    const rows = this.rowsOf(kind).filter((row) => !row.stub && matches(kind, row.doc, filter));
    const key = (row: Stored<Entry>) => (query.by === 'stored' ? [0, row.seq] : [timeOf(kind, row.doc).getTime(), row.seq]);
    const dir = query.order === 'asc' ? 1 : -1;
    const from = after && (query.by === 'stored' ? [0, Number(after.seq)] : [after.time.getTime(), Number(after.id)]);
    return rows
      .filter((row) => !from || compare(key(row), from) * dir > 0)
      .sort((a, b) => compare(key(a), key(b)) * dir)
      .slice(0, query.limit)
      .map((row) => storedEntry(kind, row));
  }

  /** Both parts of a position are one of this store's sequence numbers (see `storedEntry`). */
  checkPosition(position: EntryPosition): string | undefined {
    return SEQ_TEXT.test(position.id) && SEQ_TEXT.test(position.seq) ? undefined : FOREIGN_POSITION;
  }

  async latestAction(actorId: string, actionType: string): Promise<StoredEntry<'actions'> | null> {
    const held = this.latest.get(pairKey(actorId, actionType));
    const row = held && this.mirrors.actionLogs.get(held.action_uid);
    if (!row || !matches('actions', row.doc, {})) return null;
    return storedEntry('actions', row);
  }

  async count(kind: EntryKind, filter: StoreFilter): Promise<number> {
    return this.rowsOf(kind).filter((row) => !row.stub && matches(kind, row.doc, filter)).length;
  }

  async facets(query: FacetQuery): Promise<FacetCount[]> {
    const counts = new Map<string, number>();
    for (const row of this.rowsOf(query.kind)) {
      if (row.stub || !matches(query.kind, row.doc, query.filter)) continue;
      for (const value of new Set(facetValues(query.kind, query.field, row.doc))) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    const after = query.after;
    return [...counts]
      .map(([value, count]) => ({ value, count }))
      .sort(byFacetOrder)
      .filter((facet) => !after || byFacetOrder(facet, after) > 0)
      .slice(0, query.limit);
  }

  async purge(query: PurgeQuery): Promise<number> {
    const map = this.mapOf(query.kind);
    let deleted = 0;
    for (const [key, row] of map) {
      if (deleted >= query.limit) break;
      // A placeholder of late events has no time of its own: older than `before` when its request expired before it.
      const old =
        query.before !== undefined &&
        (row.stub ? isExpired(row.doc, new Date(query.before.getTime() - 1)) : timeOf(query.kind, row.doc) < query.before);
      if (!old && !isExpired(row.doc, query.expiredAt)) continue;
      map.delete(key);
      if (row.stub) this.requestsByUid.delete((row.doc as { uid: string }).uid);
      deleted++;
    }
    return deleted;
  }

  async remove(kind: EntryKind, ids: string[]): Promise<number> {
    const seqs = new Set(ids.map(Number));
    const map = this.mapOf(kind);
    let deleted = 0;
    for (const [key, row] of map) {
      if (row.stub || !seqs.has(row.seq)) continue;
      map.delete(key);
      deleted++;
    }
    return deleted;
  }

  async deactivate(id: string): Promise<boolean> {
    // Entries are keyed by uid: the id a read gave is their `_id`.
    const row = [...this.mirrors.actionLogs.values()].find((r) => String(r.doc._id) === id);
    if (!row) return false;
    row.doc.is_active = false;
    return true;
  }

  async putAttachments(attachments: StoredAttachment[]): Promise<void> {
    for (const attachment of attachments) {
      // Kept as given: the writer lets go of it once stored (see Store.write).
      if (!this.attachments.has(attachment.id)) this.attachments.set(attachment.id, attachment);
    }
  }

  async readAttachment(id: string): Promise<Readable | null> {
    const attachment = this.attachments.get(id);
    if (!attachment || isExpired(attachment, new Date())) return null;
    return Readable.from([Buffer.from(attachment.data)], { objectMode: false });
  }

  async purgeAttachments(query: Omit<PurgeQuery, 'kind'>): Promise<number> {
    let deleted = 0;
    for (const [id, attachment] of this.attachments) {
      if (deleted >= query.limit) break;
      const old = query.before !== undefined && attachment.timestamp < query.before;
      if (!old && !isExpired(attachment, query.expiredAt)) continue;
      this.attachments.delete(id);
      deleted++;
    }
    return deleted;
  }

  watch(onWrite: () => void): () => void {
    this.watchers.add(onWrite);
    return () => this.watchers.delete(onWrite);
  }

  async close(): Promise<void> {}

  /** Every request document, in stored order (copies, keys unescaped). */
  requests(): RequestDocument[] {
    return inOrder(this.requestsByUid);
  }

  /** The `action_logs` mirror, in stored order. */
  actions(): ActionLogDocument[] {
    return inOrder(this.mirrors.actionLogs);
  }

  /** The `model_logs` mirror (and spilled model logs), in stored order. */
  modelLogs(): ModelLogDocument[] {
    return inOrder(this.mirrors.modelLogs);
  }

  /** The signed checkpoints (tamper evidence), in stored order. */
  storedCheckpoints(): CheckpointDocument[] {
    return inOrder(this.checkpointsByUid);
  }

  /** The activity feed, in stored order. */
  activities(): ActivityDocument[] {
    return inOrder(this.mirrors.activities);
  }

  private rowsOf(kind: EntryKind): Array<Stored<Entry>> {
    return [...this.mapOf(kind).values()];
  }

  private mapOf(kind: EntryKind): Map<string, Stored<Entry>> {
    const map =
      kind === 'requests'
        ? this.requestsByUid
        : kind === 'actions'
          ? this.mirrors.actionLogs
          : kind === 'changes'
            ? this.mirrors.modelLogs
            : this.mirrors.activities;
    return map;
  }

  private wake(): void {
    for (const watcher of this.watchers) watcher();
  }

  private putRequest(doc: RequestDocument): void {
    const existing = this.requestsByUid.get(doc.uid);
    if (existing && !existing.stub) return; // already stored: a retry
    // The store owns what it is given (see Store.write): no copy on the way in, copies on the way out.
    const copy = doc;
    stampId(copy);
    if (existing) {
      // Late events arrived first: the parent goes in front of them.
      copy.details.model_logs.push(...existing.doc.details.model_logs);
      copy.details.actions.push(...existing.doc.details.actions);
      addCount(copy.details, 'model_logs_spilled', existing.doc.details.model_logs_spilled ?? 0);
      addCount(copy.details, 'actions_spilled', existing.doc.details.actions_spilled ?? 0);
      const appended = existing.doc.integrity?.appends;
      if (appended) copy.integrity = { ...copy.integrity, appends: appended };
      existing.doc = copy;
      existing.stub = false;
      // Stored now, as SQL and MongoDB place it: a tail already past the stub's place must still see it.
      existing.seq = ++this.seq;
      return;
    }
    this.requestsByUid.set(doc.uid, { seq: ++this.seq, doc: copy });
  }

  /** Each pair's row moves to an action of the batch only when that one is later (see `isLater`). */
  private keepLatest(docs: ActionLogDocument[]): void {
    for (const candidate of latestOfBatch(docs, (d) => d.uid ?? String(d._id))) {
      const key = pairKey(candidate.actor_id, candidate.action_type);
      const held = this.latest.get(key);
      if (!held || isLater(candidate, held)) this.latest.set(key, candidate);
    }
  }

  private putAll<T extends { _id?: unknown; uid?: string }>(into: Map<string, Stored<T>>, docs: T[]): void {
    for (const doc of docs) {
      const stamped = stampId(doc);
      // By `uid` where the entry has one: a replay or an archive copy is a new object with the same uid.
      const id = doc.uid ?? stamped;
      if (into.has(id)) continue;
      into.set(id, { seq: ++this.seq, doc });
    }
  }
}

let lastId = 0;
const idPrefix = newUuid().slice(0, 8);

/** Gives a document an id on its first write, so a retry of the same object is recognised. */
function stampId(doc: { _id?: unknown }): string {
  if (doc._id === undefined || doc._id === null) doc._id = `${idPrefix}-${++lastId}`;
  return String(doc._id);
}

function addCount(details: RequestDocument['details'], key: 'model_logs_spilled' | 'actions_spilled', n: number): void {
  if (n > 0) details[key] = (details[key] ?? 0) + n;
}

/** An entry as reads return it: a copy, keys unescaped, with its position. */
function storedEntry<K extends EntryKind>(kind: K, row: Stored<Entry>): StoredEntry<K> {
  return {
    entry: unescapeKeys(copyDocument(row.doc)) as EntryOf[K],
    position: { time: timeOf(kind, row.doc), id: String(row.seq), seq: String(row.seq) },
  };
}

/** Compares two keys (tuples of numbers) in ascending order. */
function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Facets: most frequent first, then by value, by code point as the other stores compare them. */
function byFacetOrder(a: FacetCount, b: FacetCount): number {
  return b.count - a.count || byCodePoint(a.value, b.value);
}

function inOrder<T>(map: Map<string, Stored<T>>): T[] {
  return [...map.values()].sort((a, b) => a.seq - b.seq).map((r) => unescapeKeys(copyDocument(r.doc)));
}
