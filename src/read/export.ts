import { Readable } from 'node:stream';
import { diff } from '../build/diff.js';
import { ActionLogValidationError, thrownText } from '../shared/errors.js';
import { closestName } from '../shared/zod-issues.js';
import type { ModelLogDocument } from '../shared/document.js';
import type { Entry, EntryKind } from '../stores/store.js';
import { humanize, type LabelKind, type Labels } from './labels.js';

/** The columns of a CSV export when none are given, per kind. */
export const DEFAULT_COLUMNS: Readonly<Record<EntryKind, readonly string[]>> = {
  requests: [
    'timestamp',
    'request_uuid',
    'module',
    'correlation_id',
    'details.request.method',
    'details.request.url',
    'details.response.status_code',
    'details.request.user_details._id',
    'details.request.user_details.label',
  ],
  actions: [
    'emitted_at',
    'action_type',
    'action_category',
    'actor_id',
    'actor.name',
    'target_type',
    'target_id',
    'target.name',
    'note',
    'request_uuid',
    'module',
  ],
  changes: ['timestamp', 'action', 'model', 'model_id', 'user._id', 'user.label', 'changed_fields', 'request_uuid', 'module'],
  activities: ['activity_date', 'user._id', 'user.label', 'action', 'ip_address', 'link_preview', 'request_uuid'],
};

/** The top-level fields a column may start with, per kind (a path goes on into their values). */
const FIELDS: Readonly<Record<EntryKind, readonly string[]>> = {
  requests: ['_id', 'uid', 'request_uuid', 'module', 'timestamp', 'correlation_id', 'details', 'expires_at'],
  actions: [
    '_id',
    'action_type',
    'action_category',
    'actor_id',
    'actor',
    'target_type',
    'target_id',
    'target',
    'context',
    'note',
    'source',
    'details',
    'tags',
    'entity_path',
    'emitted_at',
    'saved_at',
    'is_active',
    'request_uuid',
    'module',
    'correlation_id',
    'expires_at',
  ],
  changes: [
    '_id',
    'model_id',
    'model_class_name',
    'model_namespace',
    'model',
    'action',
    'timestamp',
    'model_details',
    'truncated',
    'request_uuid',
    'module',
    'user',
    'correlation_id',
    'changed_fields',
    'changes',
    'expires_at',
  ],
  activities: ['_id', 'user', 'ip_address', 'action', 'activity_date', 'link_preview', 'request_uuid', 'expires_at'],
};

/** Validates CSV columns for a kind, before anything is sent; every bad one is named. */
export function checkColumns(kind: EntryKind, columns: readonly string[]): void {
  const issues = columns.flatMap((column, i) => {
    if (typeof column !== 'string' || column === '') return [{ path: `columns.${i}`, message: 'must be a non-empty string' }];
    const head = column.split('.')[0] ?? '';
    if (FIELDS[kind].includes(head)) {
      if (head === 'changes' && !/^changes\..+\.(old|new)$/.test(column)) {
        return [{ path: `columns.${i}`, message: `"${column}" must name a field and a side: changes.<field>.old or changes.<field>.new` }];
      }
      return [];
    }
    const near = closestName(head, FIELDS[kind]);
    return [{ path: `columns.${i}`, message: `"${column}" is not a field of ${kind}${near ? ` (did you mean "${near}"?)` : ''}` }];
  });
  if (columns.length === 0) issues.push({ path: 'columns', message: 'must name at least one column' });
  if (issues.length > 0) throw new ActionLogValidationError(issues, 'export options');
}

/** The value at a column of an entry: dotted paths into objects, `changes.<field>.old|new` of a model change. */
export function valueAt(kind: EntryKind, entry: Entry, column: string): unknown {
  if (kind === 'changes') {
    const log = entry as ModelLogDocument;
    if (column === 'changed_fields') return log.model_details.changed_fields;
    const side = /^changes\.(.+)\.(old|new)$/.exec(column);
    if (side) {
      const change = diff(log.model_details.old_object, log.model_details.new_object).find((c) => c.path === side[1]);
      return change ? change[side[2] as 'old' | 'new'] : undefined;
    }
  }
  let value: unknown = entry;
  for (const key of column.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A CSV cell (RFC 4180): nested values as JSON; a text that a spreadsheet would run as a formula is defused with `'`. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = `${value as string | number | boolean | bigint}`;
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** The columns whose values read by their labels, in a labelled export of actions. */
const LABELLED_VALUES: ReadonlySet<string> = new Set<LabelKind>(['action_type', 'action_category', 'target_type']);

/** How a CSV names its columns and shows its values: as stored, or in one language of the `labels` option. */
export function labeledCsv(language: Labels[string] | undefined): {
  header: (column: string) => string;
  value: (kind: EntryKind, column: string, value: unknown) => unknown;
} {
  if (!language) return { header: (column) => column, value: (_kind, _column, value) => value };
  return {
    header: (column) => language.field?.[column] ?? humanize(column),
    value: (kind, column, value) => {
      if (kind !== 'actions' || !LABELLED_VALUES.has(column) || typeof value !== 'string') return value;
      return language[column as LabelKind]?.[value] ?? humanize(value);
    },
  };
}

/** One entry as a JSON line. */
export function jsonLine(entry: Entry): string {
  return `${JSON.stringify(entry)}\n`;
}

/** A page source: the next entries, each with the cursor after it, and the cursor of the next page (null at the end). */
export type PageSource = (cursor: string | null) => Promise<{ items: Array<{ entry: Entry; cursor: string }>; next_cursor: string | null }>;

/**
 * A Readable of lines (one string chunk per line), one page at a time: the next page is read only when the consumer
 * wants more (backpressure), so memory stays flat for any size. `cursor` follows what the consumer has read, not
 * what is buffered: an export stopped anywhere resumes from it without a gap.
 */
export class ExportStream extends Readable {
  private next: string | null;
  private reading = false;
  private done = false;
  /** The cursor after each line pushed and not read yet, in order (undefined for the header). */
  private readonly pending: Array<string | undefined> = [];
  private delivered: string | null;

  constructor(
    private readonly source: PageSource,
    private readonly lineOf: (entry: Entry) => string,
    start: string | null,
    header: string | undefined,
    pageSize: number,
  ) {
    super({ objectMode: true, highWaterMark: pageSize });
    this.next = start;
    this.delivered = start;
    if (header) this.emitLine(header, undefined);
  }

  /** The cursor after the last line the consumer read: give it to a new export to resume there. */
  get cursor(): string | null {
    return this.delivered;
  }

  /**
   * Every line handed to the consumer is emitted as 'data', whether it is read (`read()`, `for await`) or flows
   * (`pipe`, `on('data')`, which skip `read()`): delivery is tracked here so that every mode moves the cursor.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') this.delivered = this.pending.shift() ?? this.delivered;
    return super.emit(event, ...args);
  }

  override _read(): void {
    if (this.reading || this.done) return;
    this.reading = true;
    this.source(this.next)
      .then(({ items, next_cursor }) => {
        this.reading = false;
        this.next = next_cursor;
        let more = true;
        for (const { entry, cursor } of items) more = this.emitLine(this.lineOf(entry), cursor);
        if (next_cursor === null) {
          this.done = true;
          this.push(null);
        } else if (more) this._read();
      })
      .catch((error: unknown) => {
        this.destroy(error instanceof Error ? error : new Error(thrownText(error)));
      });
  }

  private emitLine(line: string, cursor: string | undefined): boolean {
    this.pending.push(cursor);
    return this.push(line);
  }
}
