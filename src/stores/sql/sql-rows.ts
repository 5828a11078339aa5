import type {
  ActionEntry,
  ActionLogDocument,
  ActivityDocument,
  CheckpointDocument,
  ModelLog,
  ModelLogDocument,
  RequestDocument,
} from '../../shared/document.js';
import { unescapeKeys } from '../../build/sanitize/keys.js';
import type { Entry, EntryKind } from '../store.js';
import { TABLES, type TableKey } from '../tables.js';
import type { SqlDialect } from './sql-dialects.js';
import { KIND_TABLE } from './sql-filter.js';
import type { SqlRow } from './sql-types.js';

/** Stored rows as the documents they hold: JSON parsed, dates as `Date`s, keys unescaped, derived columns left out. */
export class SqlRows {
  constructor(private readonly d: SqlDialect) {}

  document(kind: EntryKind, raw: SqlRow): Entry {
    const row = this.decode(KIND_TABLE[kind], raw);
    switch (kind) {
      case 'requests':
        return requestDocument(row);
      case 'actions':
        return actionDocument(row);
      case 'changes':
        return modelLogDocument(row);
      case 'activities':
        return activityDocument(row);
    }
  }

  checkpoint(raw: SqlRow): CheckpointDocument {
    const { id, ...fields } = this.decode('checkpoints', raw);
    return { _id: id, ...fields, closed: Boolean(fields.closed) } as unknown as CheckpointDocument;
  }

  private decode(key: TableKey, row: SqlRow): SqlRow {
    const out: SqlRow = {};
    for (const [name, column] of Object.entries(TABLES[key].columns)) {
      const value = row[name];
      if (column.kind === 'json') out[name] = this.d.readJson(value);
      else if (column.kind === 'date') out[name] = this.d.readDate(value);
      else if (column.kind === 'bool') out[name] = value === null || value === undefined ? value : Boolean(value);
      else out[name] = value;
    }
    return out;
  }
}

/** Optional fields of a document are absent where the column is null. */
function setPresent(doc: Record<string, unknown>, row: SqlRow, names: string[]): void {
  for (const name of names) if (row[name] !== null && row[name] !== undefined) doc[name] = row[name];
}

function requestDocument(row: SqlRow): RequestDocument {
  const doc: Record<string, unknown> = { _id: row.id, uid: row.uid, request_uuid: row.request_uuid };
  setPresent(doc, row, ['module', 'timestamp']);
  doc.details = reviveDetails(row.details as Partial<RequestDocument['details']>);
  setPresent(doc, row, ['correlation_id', 'integrity', 'expires_at']);
  return unescapeKeys(doc) as unknown as RequestDocument;
}

function actionDocument(row: SqlRow): ActionLogDocument {
  const { id, expires_at, correlation_id, integrity, txid, attachments, ...fields } = row;
  const doc: Record<string, unknown> = { _id: id, ...fields };
  setPresent(doc, row, ['correlation_id', 'integrity', 'expires_at', 'attachments']);
  return unescapeKeys(doc) as unknown as ActionLogDocument;
}

function modelLogDocument(row: SqlRow): ModelLogDocument {
  const { id, expires_at, truncated, user_id, correlation_id, integrity, txid, ...fields } = row;
  const doc: Record<string, unknown> = { _id: id, ...fields };
  if (truncated) doc.truncated = true;
  setPresent(doc, row, ['correlation_id', 'integrity', 'expires_at']);
  return unescapeKeys(doc) as unknown as ModelLogDocument;
}

function activityDocument(row: SqlRow): ActivityDocument {
  const { id, user_id, expires_at, integrity, txid, ...fields } = row;
  const doc: Record<string, unknown> = { _id: id, ...fields };
  setPresent(doc, row, ['integrity', 'expires_at']);
  return unescapeKeys(doc) as unknown as ActivityDocument;
}

const toDate = (value: unknown): Date => (value instanceof Date ? value : new Date(value as string));

/** JSON columns bring dates back as strings: the document's own date fields become Dates again. */
function reviveDetails(details: Partial<RequestDocument['details']>): RequestDocument['details'] {
  return Object.assign({ request: null, response: null }, details, {
    model_logs: (details.model_logs ?? []).map((m: ModelLog) => Object.assign({}, m, { timestamp: toDate(m.timestamp) })),
    actions: (details.actions ?? []).map((a: ActionEntry) =>
      Object.assign({}, a, { emitted_at: toDate(a.emitted_at), saved_at: a.saved_at === null ? null : toDate(a.saved_at) }),
    ),
  });
}
