import { z } from 'zod';
import { diff, type FieldChange } from '../build/diff.js';
import type { ModelAction, ModelLogDocument, UserRef } from '../shared/document.js';
import { ActionLogConfigError, ActionLogValidationError } from '../shared/errors.js';
import { fromZodIssues } from '../shared/zod-issues.js';
import type { Entry, EntryKind, EntryOf, FacetCount, FacetField, SortOrder, Store, StoredEntry, StoreFilter } from '../stores/store.js';
import { cursorAt, decodeCursor, encodeCursor, fingerprint, positionOf } from './cursor.js';
import { parseFilter, type QueryFilter } from './filter.js';
import { checkColumns, csvLine, DEFAULT_COLUMNS, ExportStream, jsonLine, labeledCsv, type PageSource, valueAt } from './export.js';
import { LabelBook } from './labels.js';
import { stateAt, type RecordState } from './state-at.js';
import { tailEntries, type TailItem, type TailOptions, tailQuery } from './tail.js';

/** Paging of every read: `limit` 1–1000 (default 50), `cursor` from the previous page, `order` by time. */
export interface PageOptions {
  limit?: number;
  cursor?: string | null;
  /** Default `desc` (newest first); `history` defaults to `asc`. */
  order?: SortOrder;
}

/** One page: the entries, and the cursor of the next page (`null` on the last one). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** One change of a record's history, with who made it, when, in which request, and what changed. */
export interface HistoryItem {
  action: ModelAction;
  when: Date;
  who: UserRef | null;
  request_uuid: string;
  module: string;
  correlation_id?: string;
  changed_fields: string[];
  /** Each changed path with its value before and after. */
  changes: FieldChange[];
  old_object: Record<string, unknown> | null;
  new_object: Record<string, unknown> | null;
}

const pageSchema = z.strictObject({
  limit: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000')
    .default(50),
  cursor: z.string({ error: 'must be a string' }).min(1, 'must not be empty').nullable().optional(),
  order: z.enum(['asc', 'desc'], { error: 'must be "asc" or "desc"' }).optional(),
});

/** Options of `logger.export`. */
export interface ExportOptions {
  /** `jsonl` (default): one JSON entry per line; `csv`: one row per entry, `columns` as its columns. */
  format?: 'jsonl' | 'csv';
  /** CSV columns: dotted paths into the entry, `changes.<field>.old` / `.new` for model changes. Default per kind. */
  columns?: string[];
  /** Where to resume: the `cursor` of an earlier export (or a query's `next_cursor`). */
  cursor?: string | null;
  /** Default `asc` (oldest first). */
  order?: SortOrder;
  /** Entries read per round trip; default 500. */
  pageSize?: number;
  /** CSV header row; default true unless resuming. */
  header?: boolean;
  /**
   * CSV in this language of the `labels` option: the header row names each column by its `field` label, and
   * action types, categories and target types read by their labels; a key without one reads humanized.
   */
  lang?: string;
}

const exportSchema = z.strictObject({
  format: z.enum(['jsonl', 'csv'], { error: 'must be "jsonl" or "csv"' }).default('jsonl'),
  columns: z.array(z.string({ error: 'must be a list of strings' }), { error: 'must be a list of strings' }).optional(),
  cursor: z.string({ error: 'must be a string' }).min(1).nullable().optional(),
  order: z.enum(['asc', 'desc'], { error: 'must be "asc" or "desc"' }).default('asc'),
  pageSize: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000')
    .default(500),
  header: z.boolean({ error: 'must be a boolean' }).optional(),
  lang: z.string({ error: 'must be a string' }).min(1, 'must not be empty').optional(),
});

const tailSchema = z.strictObject({
  after: z.string({ error: 'must be a string' }).min(1).nullable().optional(),
  pollMs: z.number({ error: 'must be a number' }).int('must be an integer').min(10, 'must be at least 10').default(1000),
  signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
});

const FACET_FIELDS: Record<FacetField, EntryKind[]> = {
  actor_id: ['requests', 'actions', 'changes', 'activities'],
  module: ['requests', 'actions', 'changes'],
  action_type: ['actions'],
  action_category: ['actions'],
  target_type: ['actions'],
  tag_type: ['actions'],
  model: ['changes'],
  action: ['changes'],
};

/** Which mirrors the logger writes: a kind read from a mirror that is off cannot be answered. */
export interface MirrorsWritten {
  actionLogs: boolean;
  modelLogs: boolean;
}

/**
 * The read side of a trail: pages of entries by keyset cursors, counts, facets, a record's history and its state
 * at a moment. Every input is validated first; every read goes through the store's indexes.
 */
export class TrailReader {
  constructor(
    private readonly store: Store,
    private readonly mirrors: MirrorsWritten,
    /** Resolves once the store is ready (tables, indexes). */
    private readonly ready: () => Promise<void>,
    private readonly labels: LabelBook = new LabelBook(),
    /** Aborted when the logger closes: every tail ends then. */
    private readonly closing: AbortSignal = new AbortController().signal,
  ) {}

  async query<K extends EntryKind>(input: QueryFilter & { kind: K }, options: PageOptions = {}): Promise<Page<EntryOf[K]>> {
    const { kind, filter } = this.parse(input);
    const page = parsePage(options, 'desc');
    const found = await this.page(kind as K, filter, page);
    return { items: found.items.map((s) => s.entry), next_cursor: found.next_cursor };
  }

  async count(input: QueryFilter): Promise<number> {
    const { kind, filter } = this.parse(input);
    await this.ready();
    return this.store.count(kind, filter);
  }

  /** Distinct values of `field` among the matching entries, with counts, most frequent first. */
  async facets(field: FacetField, input: QueryFilter, options: Omit<PageOptions, 'order'> = {}): Promise<Page<FacetCount>> {
    const { kind, filter } = this.parse(input);
    if (!Object.hasOwn(FACET_FIELDS, field) || !FACET_FIELDS[field].includes(kind)) {
      const fields = Object.entries(FACET_FIELDS)
        .filter(([, kinds]) => kinds.includes(kind))
        .map(([name]) => name);
      throw new ActionLogValidationError([{ path: 'field', message: `must be one of ${fields.join(', ')} for ${kind}` }], 'facets');
    }
    const page = parsePage(options, 'desc');
    const query = { for: 'f' as const, kind, order: 'desc' as const, filter: fingerprint(kind, filter, field) };
    let after: FacetCount | undefined;
    if (page.cursor) {
      const state = decodeCursor(page.cursor, query);
      if (typeof state.value !== 'string' || typeof state.count !== 'number') {
        throw new ActionLogValidationError([{ path: 'cursor', message: 'is not a cursor actionlog returned' }], 'read options');
      }
      after = { value: state.value, count: state.count };
    }
    await this.ready();
    const found = await this.store.facets({ kind, field, filter, limit: page.limit + 1, after });
    const items = found.slice(0, page.limit);
    const last = items.at(-1);
    return {
      items,
      next_cursor: found.length > page.limit && last ? encodeCursor({ ...query, value: last.value, count: last.count }) : null,
    };
  }

  /** Every change of one record, oldest first (unless `order: 'desc'`), across requests and processes. */
  async history(model: string, id: string | number, options: PageOptions = {}): Promise<Page<HistoryItem>> {
    const { kind, filter } = this.parse({ kind: 'changes', model, model_id: id }, 'history');
    const page = parsePage(options, 'asc');
    const found = await this.page(kind as 'changes', filter, page);
    return { items: found.items.map((s) => historyItem(s.entry)), next_cursor: found.next_cursor };
  }

  /** The record as it was at `at`, from its last change at or before it; says when the history cannot prove it. */
  async stateAt(model: string, id: string | number, at: Date | string): Promise<RecordState> {
    const { filter } = this.parse({ kind: 'changes', model, model_id: id, to: at }, 'stateAt');
    await this.ready();
    // All three were given and validated: the parsed filter holds them normalized.
    const target = { model: filter.model ?? model, model_id: filter.model_id ?? String(id), at: filter.to ?? new Date(at) };
    return stateAt(this.store, target);
  }

  /**
   * Every matching entry as a stream of lines (JSON lines or CSV), read a page at a time as the consumer asks for
   * more. Options and columns are checked before anything is read; `stream.cursor` says where to resume.
   */
  export(input: QueryFilter, options: ExportOptions = {}): ExportStream {
    const { kind, filter } = this.parse(input, 'export filter');
    const parsed = exportSchema.safeParse(options);
    if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, exportSchema), 'export options');
    const o = parsed.data;
    const columns = o.columns ?? [...DEFAULT_COLUMNS[kind]];
    if (o.format === 'csv') checkColumns(kind, columns);
    const page = { limit: o.pageSize, order: o.order };
    const query = { for: 'q' as const, kind, order: o.order, filter: fingerprint(kind, filter) };
    // A bad cursor is refused now, not as a stream error after the header.
    if (o.cursor) positionOf(decodeCursor(o.cursor, query), this.store);
    const source: PageSource = async (cursor) => {
      const found = await this.page(kind, filter, { ...page, cursor });
      return { items: found.items.map((s) => ({ entry: s.entry, cursor: cursorAt(s.position, query) })), next_cursor: found.next_cursor };
    };
    const csv = o.format === 'csv';
    if (o.lang !== undefined && !csv)
      throw new ActionLogValidationError([{ path: 'lang', message: 'applies to format csv' }], 'export options');
    const labeled = labeledCsv(o.lang === undefined ? undefined : this.labels.language(o.lang));
    const lineOf = csv
      ? (entry: Entry) => csvLine(columns.map((column) => labeled.value(kind, column, valueAt(kind, entry, column))))
      : jsonLine;
    const header = csv && (o.header ?? !o.cursor) ? csvLine(columns.map(labeled.header)) : undefined;
    return new ExportStream(source, lineOf, o.cursor ?? null, header, o.pageSize);
  }

  /**
   * The entries of a kind as they are stored, from now on (or after `options.after`), each with the cursor that
   * resumes right after it. Stops when `options.signal` aborts, the logger closes or the consumer stops iterating.
   */
  tail<K extends EntryKind>(input: QueryFilter & { kind: K }, options: TailOptions = {}): AsyncIterable<TailItem<EntryOf[K]>> {
    const { kind, filter } = this.parse(input, 'tail filter');
    const parsed = tailSchema.safeParse(options);
    if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, tailSchema), 'tail options');
    const o = parsed.data;
    const store = this.store;
    // Checked now, its position too: a bad cursor is said before the first entry is awaited.
    const after = o.after ? positionOf(decodeCursor(o.after, tailQuery(kind, filter), 'after'), store, 'after') : undefined;
    const ready = this.ready;
    const signal = o.signal ? AbortSignal.any([o.signal, this.closing]) : this.closing;
    return {
      async *[Symbol.asyncIterator]() {
        await ready();
        yield* tailEntries(store, kind, filter, { after, pollMs: o.pollMs, signal }) as AsyncGenerator<TailItem<EntryOf[K]>>;
      },
    };
  }

  /** A page of stored entries with their positions, by keyset. */
  private async page<K extends EntryKind>(
    kind: K,
    filter: StoreFilter,
    page: ParsedPage,
  ): Promise<{ items: Array<StoredEntry<K>>; next_cursor: string | null }> {
    const query = { for: 'q' as const, kind, order: page.order, filter: fingerprint(kind, filter) };
    const after = page.cursor ? positionOf(decodeCursor(page.cursor, query), this.store) : undefined;
    await this.ready();
    // One more than asked: whether there is a next page, without a count.
    const found = await this.store.query({ kind, filter, by: 'time', order: page.order, limit: page.limit + 1, after });
    const items = found.slice(0, page.limit);
    const last = items.at(-1);
    return { items, next_cursor: found.length > page.limit && last ? cursorAt(last.position, query) : null };
  }

  private parse(input: unknown, what?: string): { kind: EntryKind; filter: StoreFilter } {
    const parsed = parseFilter(input, what);
    this.checkMirror(parsed.kind);
    return parsed;
  }

  /** Actions and changes are read from their own collections: written only when their mirror is on. */
  checkMirror(kind: EntryKind): void {
    const option = kind === 'actions' ? 'actionLogs' : kind === 'changes' ? 'modelLogs' : undefined;
    if (option && !this.mirrors[option]) {
      throw new ActionLogConfigError(
        [{ path: option, message: `is false: ${kind} are read from their own collection, which it turns off` }],
        'options',
      );
    }
  }
}

interface ParsedPage {
  limit: number;
  cursor?: string | null;
  order: SortOrder;
}

/** Validates paging options, naming each bad one. */
export function parsePage(options: unknown, defaultOrder: SortOrder): ParsedPage {
  const parsed = pageSchema.safeParse(options ?? {});
  if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, pageSchema), 'read options');
  return { ...parsed.data, order: parsed.data.order ?? defaultOrder };
}

function historyItem(log: ModelLogDocument): HistoryItem {
  const item: HistoryItem = {
    action: log.action,
    when: log.timestamp,
    who: log.user ?? null,
    request_uuid: log.request_uuid,
    module: log.module,
    changed_fields: log.model_details.changed_fields,
    changes: changesOf(log),
    old_object: log.model_details.old_object,
    new_object: log.model_details.new_object,
  };
  if (log.correlation_id) item.correlation_id = log.correlation_id;
  return item;
}

/**
 * The changes of a log in the order of its `changed_fields`, as recorded: a store may hand the objects back with
 * their keys reordered (PostgreSQL's jsonb sorts them), which must not reorder the history.
 */
function changesOf(log: ModelLogDocument): FieldChange[] {
  const byPath = new Map(diff(log.model_details.old_object, log.model_details.new_object).map((c) => [c.path, c]));
  return log.model_details.changed_fields.flatMap((path) => byPath.get(path) ?? []);
}
