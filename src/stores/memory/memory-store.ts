import { randomUUID } from 'node:crypto';
import type { ActionLogDocument, ActivityDocument, ModelLogDocument, RequestDocument } from '../../shared/document.js';
import { unescapeKeys } from '../../build/sanitize/keys.js';
import { copyDocument } from '../../shared/copy.js';
import {
  type ActionQuery,
  type ActivityQuery,
  DEFAULT_QUERY_LIMIT,
  type ModelLogQuery,
  type RequestAppend,
  type RequestQuery,
  type Store,
  type StoreBatch,
} from '../store.js';

interface Stored<T> {
  seq: number;
  doc: T;
  /** Late events waiting for their request document, which has not arrived. */
  stub?: boolean;
}

/** Keeps everything in process memory: for tests, examples and short-lived scripts. */
export class MemoryStore implements Store {
  private seq = 0;
  /** By `uid`, the server's id: `request_uuid` is only what a client claims, and several may claim one. */
  private readonly requestsByUid = new Map<string, Stored<RequestDocument>>();
  private readonly appliedAppends = new Map<string, Set<string>>();
  private readonly mirrors = {
    actionLogs: new Map<string, Stored<ActionLogDocument>>(),
    modelLogs: new Map<string, Stored<ModelLogDocument>>(),
    activities: new Map<string, Stored<ActivityDocument>>(),
  };

  async ping(): Promise<void> {}

  async write(batch: StoreBatch): Promise<void> {
    for (const doc of batch.requests) this.putRequest(doc);
    this.putAll(this.mirrors.actionLogs, batch.actionLogs);
    this.putAll(this.mirrors.modelLogs, batch.modelLogs);
    this.putAll(this.mirrors.activities, batch.activities);
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
        };
        stored = { seq: ++this.seq, doc: stub as unknown as RequestDocument, stub: true };
        this.requestsByUid.set(append.uid, stored);
      }
      const details = stored.doc.details;
      details.model_logs.push(...append.model_logs);
      details.actions.push(...append.actions);
      addCount(details, 'model_logs_spilled', append.model_logs_spilled);
      addCount(details, 'actions_spilled', append.actions_spilled);
    }
  }

  async findRequests(query: RequestQuery = {}): Promise<RequestDocument[]> {
    const docs = [...this.requestsByUid.values()].filter(({ doc }) => {
      if (query.request_uuid !== undefined && doc.request_uuid !== query.request_uuid) return false;
      if (query.module !== undefined && doc.module !== query.module) return false;
      if (query.correlation_id !== undefined && doc.correlation_id !== query.correlation_id) return false;
      if (query.user_id !== undefined) {
        const user = doc.details.request?.user_details ?? doc.details.run?.user_details;
        if (user?._id !== query.user_id) return false;
      }
      if (query.model !== undefined || query.model_id !== undefined) {
        const hit = doc.details.model_logs.some(
          (m) => (query.model === undefined || m.model === query.model) && (query.model_id === undefined || m.model_id === query.model_id),
        );
        if (!hit) return false;
      }
      return inRange(doc.timestamp, query.from, query.to);
    });
    return page(docs, (d) => d.timestamp, query);
  }

  async findActions(query: ActionQuery = {}): Promise<ActionLogDocument[]> {
    const docs = [...this.mirrors.actionLogs.values()].filter(({ doc }) => {
      if (!query.include_inactive && !doc.is_active) return false;
      for (const key of ['request_uuid', 'actor_id', 'action_type', 'action_category', 'target_type', 'target_id'] as const) {
        if (query[key] !== undefined && doc[key] !== query[key]) return false;
      }
      return inRange(doc.emitted_at, query.from, query.to);
    });
    return page(docs, (d) => d.emitted_at, query);
  }

  async findModelLogs(query: ModelLogQuery = {}): Promise<ModelLogDocument[]> {
    const docs = [...this.mirrors.modelLogs.values()].filter(({ doc }) => {
      for (const key of ['request_uuid', 'model', 'model_id'] as const) {
        if (query[key] !== undefined && doc[key] !== query[key]) return false;
      }
      return inRange(doc.timestamp, query.from, query.to);
    });
    return page(docs, (d) => d.timestamp, query);
  }

  async findActivities(query: ActivityQuery = {}): Promise<ActivityDocument[]> {
    const docs = [...this.mirrors.activities.values()].filter(({ doc }) => {
      if (query.user_id !== undefined && doc.user._id !== query.user_id) return false;
      if (query.request_uuid !== undefined && doc.request_uuid !== query.request_uuid) return false;
      return inRange(doc.activity_date, query.from, query.to);
    });
    return page(docs, (d) => d.activity_date, query);
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

  /** The activity feed, in stored order. */
  activities(): ActivityDocument[] {
    return inOrder(this.mirrors.activities);
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
      existing.doc = copy;
      existing.stub = false;
      return;
    }
    this.requestsByUid.set(doc.uid, { seq: ++this.seq, doc: copy });
  }

  private putAll<T extends { _id?: unknown }>(into: Map<string, Stored<T>>, docs: T[]): void {
    for (const doc of docs) {
      const id = stampId(doc);
      if (into.has(id)) continue;
      into.set(id, { seq: ++this.seq, doc });
    }
  }
}

let lastId = 0;
const idPrefix = randomUUID().slice(0, 8);

/** Gives a document an id on its first write, so a retry of the same object is recognised. */
function stampId(doc: { _id?: unknown }): string {
  if (doc._id === undefined || doc._id === null) doc._id = `${idPrefix}-${++lastId}`;
  return String(doc._id);
}

function addCount(details: RequestDocument['details'], key: 'model_logs_spilled' | 'actions_spilled', n: number): void {
  if (n > 0) details[key] = (details[key] ?? 0) + n;
}

function inRange(date: Date | undefined, from?: Date, to?: Date): boolean {
  if (from === undefined && to === undefined) return true;
  if (!(date instanceof Date)) return false;
  return (from === undefined || date >= from) && (to === undefined || date <= to);
}

function page<T>(
  rows: Array<Stored<T>>,
  time: (doc: T) => Date | undefined,
  query: { limit?: number; offset?: number; order?: 'asc' | 'desc' },
): T[] {
  const dir = query.order === 'asc' ? 1 : -1;
  rows.sort((a, b) => {
    const ta = time(a.doc)?.getTime() ?? 0;
    const tb = time(b.doc)?.getTime() ?? 0;
    return (ta - tb || a.seq - b.seq) * dir;
  });
  const offset = query.offset ?? 0;
  const limit = query.limit ?? DEFAULT_QUERY_LIMIT;
  return rows.slice(offset, offset + limit).map((r) => unescapeKeys(copyDocument(r.doc)));
}

function inOrder<T>(map: Map<string, Stored<T>>): T[] {
  return [...map.values()].sort((a, b) => a.seq - b.seq).map((r) => unescapeKeys(copyDocument(r.doc)));
}
