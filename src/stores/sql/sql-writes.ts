import {
  type ActionLogDocument,
  type ActivityDocument,
  type CheckpointDocument,
  type ModelLogDocument,
  type RequestAppend,
  type RequestDocument,
  type StoreBatch,
  userIdText,
} from '../../shared/document.js';
import { latestOfBatch } from '../latest.js';
import { type ColumnKind, TABLES, type TableSpec } from '../tables.js';
import { quoteName, type SqlTables } from './sql-schema.js';
import type { SqlDialect } from './sql-dialects.js';
import type { SqlProgram, SqlRow, SqlStep } from './sql-types.js';

type Kind = 'text' | 'json' | 'date' | 'bool' | 'int' | 'blob';
type Columns = Array<[string, Kind]>;

const KINDS: Record<Exclude<ColumnKind, 'id' | 'txid'>, Kind> = {
  text: 'text',
  'long-text': 'text',
  json: 'json',
  date: 'date',
  bool: 'bool',
  int: 'int',
  blob: 'blob',
};

/** The columns a write sets, in table order: all but the row id and the writing transaction (the database's). */
function columnsOf(table: TableSpec): Columns {
  return Object.entries(table.columns).flatMap(([name, column]) =>
    column.kind === 'id' || column.kind === 'txid' ? [] : [[name, KINDS[column.kind]] as [string, Kind]],
  );
}

const REQUEST = columnsOf(TABLES.requests);
const ACTION = columnsOf(TABLES.actionLogs);
const MODEL_LOG = columnsOf(TABLES.modelLogs);
const ACTIVITY = columnsOf(TABLES.activities);
const LATEST = columnsOf(TABLES.latestActions);
const CHECKPOINT = columnsOf(TABLES.checkpoints);

/** The details of a stored request row, as far as appends touch them. */
type StoredDetails = Partial<RequestDocument['details']>;

/** A request row read to add to it: a document, or a stub of late events waiting for it (no timestamp). */
interface StoredRequest {
  id: unknown;
  uid: string;
  timestamp: Date | null;
  details: StoredDetails;
  appends: string[];
  integrity: RequestDocument['integrity'] | null;
}

const q = quoteName;

/** The statements of writes and appends, for one dialect and set of tables. */
export class SqlWrites {
  constructor(
    private readonly d: SqlDialect,
    private readonly t: SqlTables,
    /** The id a document gets on its first attempt, the same on every retry. */
    private readonly uid: (doc: object) => string,
    /** Option `latestActions` is on: writes keep the latest action of each (actor, action type). */
    private readonly latestOn: () => boolean,
    private readonly pg: boolean,
  ) {}

  *write(batch: StoreBatch): SqlProgram {
    yield* this.writeRequests(batch.requests);
    yield* this.insert(
      this.t.actionLogs,
      ACTION,
      batch.actionLogs.map((d) => this.actionRow(d)),
      true,
    );
    if (this.latestOn()) yield* this.keepLatest(batch.actionLogs);
    yield* this.insert(
      this.t.modelLogs,
      MODEL_LOG,
      batch.modelLogs.map((d) => this.modelLogRow(d)),
      true,
    );
    yield* this.insert(
      this.t.activities,
      ACTIVITY,
      batch.activities.map((d) => this.activityRow(d)),
      true,
    );
  }

  *append(appends: RequestAppend[]): SqlProgram {
    for (const append of appends) {
      const row = yield* this.lockedRequest(append.uid);
      if (!row) {
        // The document has not arrived: a stub without timestamp holds the events until it does.
        const stub = {
          uid: append.uid,
          request_uuid: append.request_uuid,
          module: append.module,
          timestamp: null,
          correlation_id: null,
          user_id: null,
          details: withCounts(
            { model_logs: append.model_logs, actions: append.actions },
            append.model_logs_spilled,
            append.actions_spilled,
          ),
          integrity: append.integrity ? { appends: [append.integrity] } : null,
          // Purged at the request's expiry if its document never comes.
          expires_at: append.expires_at ?? null,
          appends: [append.append_id],
          method: null,
          route: null,
          status_code: null,
        };
        yield* this.insert(this.t.requests, REQUEST, [stub], false);
        continue;
      }
      if (row.appends.includes(append.append_id)) continue;
      const details = Object.assign({}, row.details, {
        model_logs: [...(row.details.model_logs ?? []), ...append.model_logs],
        actions: [...(row.details.actions ?? []), ...append.actions],
      });
      const values: SqlRow = {
        details: withCounts(details, append.model_logs_spilled, append.actions_spilled),
        appends: [...row.appends, append.append_id],
      };
      if (append.integrity) values.integrity = { ...row.integrity, appends: [...(row.integrity?.appends ?? []), append.integrity] };
      yield* this.update(row.id, values);
    }
  }

  /**
   * Request documents by their `uid` (the server's id, unique): a new one is inserted, one stored by an earlier
   * attempt is left as it is, a stub of late events that came first takes the document in front of them. Requests
   * claiming the same `request_uuid` never meet: that id is not a key.
   */
  private *writeRequests(docs: RequestDocument[]): SqlProgram {
    if (docs.length === 0) return;
    const existing: SqlRow[] = yield {
      sql: `SELECT "uid", "timestamp" FROM ${q(this.t.requests)} WHERE ${this.d.inList('"uid"', this.d.param(1))}`,
      params: [this.d.list(docs.map((d) => d.uid))],
    };
    const byUid = new Map(existing.map((r) => [String(r.uid), r]));
    const fresh: SqlRow[] = [];
    for (const doc of docs) {
      const row = byUid.get(doc.uid);
      if (!row) fresh.push(this.requestRow(doc));
      else if (row.timestamp === null) yield* this.mergeIntoStub(doc);
    }
    yield* this.insert(this.t.requests, REQUEST, fresh, false);
  }

  private *mergeIntoStub(doc: RequestDocument): SqlProgram {
    const stub = yield* this.lockedRequest(doc.uid);
    if (!stub) return;
    const late = stub.details;
    const details = withCounts(
      {
        ...doc.details,
        model_logs: [...doc.details.model_logs, ...(late.model_logs ?? [])],
        actions: [...doc.details.actions, ...(late.actions ?? [])],
      },
      late.model_logs_spilled ?? 0,
      late.actions_spilled ?? 0,
    );
    // A new row rather than an update: the entry becomes visible now, and takes its place in stored order now.
    yield { sql: `DELETE FROM ${q(this.t.requests)} WHERE "id" = ${this.d.param(1)}`, params: [stub.id] };
    const appended = stub.integrity?.appends;
    const integrity = appended ? { ...doc.integrity, appends: appended } : doc.integrity;
    yield* this.insert(this.t.requests, REQUEST, [{ ...this.requestRow({ ...doc, details, integrity }), appends: stub.appends }], false);
  }

  /** A signed checkpoint, once: one an earlier attempt stored is left as it is. */
  *checkpoint(checkpoint: CheckpointDocument): SqlProgram {
    yield* this.insert(this.t.checkpoints, CHECKPOINT, [{ ...checkpoint }], true);
  }

  private *lockedRequest(uid: string): Generator<SqlStep, StoredRequest | null, SqlRow[]> {
    const rows: SqlRow[] = yield {
      sql: `SELECT "id", "uid", "timestamp", "details", "appends", "integrity" FROM ${q(this.t.requests)} WHERE "uid" = ${this.d.param(1)}${this.d.lock}`,
      params: [uid],
    };
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      uid: String(row.uid),
      timestamp: this.d.readDate(row.timestamp),
      details: this.d.readJson(row.details) ?? {},
      appends: (this.d.readJson(row.appends) ?? []) as string[],
      integrity: (this.d.readJson(row.integrity) ?? null) as StoredRequest['integrity'],
    };
  }

  /**
   * Upserts each pair's latest action of the batch, replacing a stored row only when later (`isLater`): the database
   * settles concurrent writers under the unique (actor, type) index (the loser waits for the row, then compares with
   * what committed), so the latest wins whatever the order of arrival. A retry compares equal and changes nothing.
   */
  private *keepLatest(docs: ActionLogDocument[]): SqlProgram {
    const rows: SqlRow[] = latestOfBatch(docs, (doc) => this.rowUid(doc)).map((candidate) => ({ ...candidate }));
    const table = q(this.t.latestActions);
    const c = (name: string) => (this.pg ? `${name} COLLATE "C"` : name);
    const later =
      `excluded."emitted_at" > ${table}."emitted_at" OR (excluded."emitted_at" = ${table}."emitted_at"` +
      ` AND ${c('excluded."action_uid"')} > ${c(`${table}."action_uid"`)})`;
    const sets = LATEST.filter(([name]) => name !== 'actor_id' && name !== 'action_type').map(
      ([name]) => `${q(name)} = excluded.${q(name)}`,
    );
    const upsert = ` ON CONFLICT ("actor_id", "action_type") DO UPDATE SET ${sets.join(', ')} WHERE ${later}`;
    yield* this.insert(this.t.latestActions, LATEST, rows, false, upsert);
  }

  private *update(id: unknown, values: SqlRow): SqlProgram {
    const columns = REQUEST.filter(([name]) => name in values);
    const sets = columns.map(([name], i) => `${q(name)} = ${this.d.param(i + 1)}`);
    const params = columns.map(([name, kind]) => this.encode(kind, values[name]));
    yield {
      sql: `UPDATE ${q(this.t.requests)} SET ${sets.join(', ')} WHERE "id" = ${this.d.param(columns.length + 1)}`,
      params: [...params, id],
    };
  }

  private *insert(table: string, columns: Columns, rows: SqlRow[], ignore: boolean, onConflict = ''): SqlProgram {
    if (rows.length === 0) return;
    const prefix = ignore ? this.d.insertIgnore.prefix : 'INSERT INTO';
    const suffix = ignore ? this.d.insertIgnore.suffix : onConflict;
    const head = `${prefix} ${q(table)} (${columns.map(([c]) => q(c)).join(', ')}) VALUES `;
    const perStatement = this.d.multiRow ? Math.max(1, Math.floor(2000 / columns.length)) : 1;
    for (let i = 0; i < rows.length; i += perStatement) {
      const chunk = rows.slice(i, i + perStatement);
      let n = 0;
      const tuples = chunk.map(() => `(${columns.map(() => this.d.param(++n)).join(', ')})`);
      const params = chunk.flatMap((row) => columns.map(([name, kind]) => this.encode(kind, row[name])));
      yield { sql: `${head}${tuples.join(', ')}${suffix}`, params };
    }
  }

  private encode(kind: Kind, value: unknown): unknown {
    if (value === undefined) return null;
    switch (kind) {
      case 'json':
        return this.d.json(value);
      case 'date':
        return this.d.date(value as Date | null);
      case 'bool':
        return this.d.bool(Boolean(value));
      default:
        return value;
    }
  }

  private requestRow(doc: RequestDocument): SqlRow {
    const { request, response, run } = doc.details;
    const user = request?.user_details ?? run?.user_details ?? null;
    return {
      uid: doc.uid,
      request_uuid: doc.request_uuid,
      module: doc.module,
      timestamp: doc.timestamp,
      correlation_id: doc.correlation_id ?? null,
      user_id: user ? userIdText(user._id) : null,
      details: doc.details,
      integrity: doc.integrity ?? null,
      expires_at: doc.expires_at ?? null,
      appends: [],
      method: request?.method ?? null,
      route: request?.route ?? null,
      status_code: response?.status_code ?? null,
    };
  }

  /** An entry's uid: its own, or for entries of versions before 0.2 one the store gives (kept across retries). */
  private rowUid(doc: { uid?: string }): string {
    return doc.uid ?? this.uid(doc);
  }

  private actionRow(doc: ActionLogDocument): SqlRow {
    return { ...doc, uid: this.rowUid(doc) };
  }

  private modelLogRow(doc: ModelLogDocument): SqlRow {
    return {
      ...doc,
      truncated: doc.truncated ?? false,
      user: doc.user ?? null,
      user_id: doc.user ? userIdText(doc.user._id) : null,
      uid: this.rowUid(doc),
    };
  }

  private activityRow(doc: ActivityDocument): SqlRow {
    return { ...doc, user_id: userIdText(doc.user._id), uid: this.rowUid(doc) };
  }
}

/** `details` with the spilled counts raised by these. */
function withCounts<T extends StoredDetails>(details: T, modelLogs: number, actions: number): T {
  const out = Object.assign({}, details);
  if (modelLogs > 0) out.model_logs_spilled = (out.model_logs_spilled ?? 0) + modelLogs;
  if (actions > 0) out.actions_spilled = (out.actions_spilled ?? 0) + actions;
  return out;
}
