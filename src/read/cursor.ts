import { createHash } from 'node:crypto';
import { ActionLogValidationError } from '../shared/errors.js';
import type { EntryKind, EntryPosition, SortOrder, Store, StoreFilter } from '../stores/store.js';
import { positionError } from '../stores/store.js';

/** What a cursor remembers: which query it belongs to, and where the last page ended. */
interface CursorState {
  v: 1;
  /** `q`uery pages, `t`ail, `f`acets. */
  for: 'q' | 't' | 'f';
  kind: EntryKind;
  order: SortOrder;
  /** A fingerprint of the filter, so that a cursor is not used with another query. */
  filter: string;
  time?: string;
  id?: string;
  seq?: string;
  /** Facets: the last value and its count. */
  value?: string;
  count?: number;
}

/** A short, stable fingerprint of a normalized filter. */
export function fingerprint(kind: EntryKind, filter: StoreFilter, extra = ''): string {
  const keys = Object.keys(filter).sort();
  const canonical = keys.map((key) => {
    const value = (filter as Record<string, unknown>)[key];
    return [key, value instanceof Date ? value.toISOString() : value];
  });
  return createHash('sha256')
    .update(JSON.stringify([kind, extra, canonical]))
    .digest('base64url')
    .slice(0, 16);
}

export function encodeCursor(state: Omit<CursorState, 'v'>): string {
  return Buffer.from(JSON.stringify({ v: 1, ...state })).toString('base64url');
}

/** Reads a cursor back, refusing one that is malformed or belongs to another query, naming `field`. */
export function decodeCursor(
  cursor: string,
  expected: Pick<CursorState, 'for' | 'kind' | 'order' | 'filter'>,
  field = 'cursor',
): CursorState {
  let state: unknown;
  try {
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ActionLogValidationError([{ path: field, message: 'is not a cursor actionlog returned' }], 'read options');
  }
  if (
    state === null ||
    typeof state !== 'object' ||
    (state as { v?: unknown }).v !== 1 ||
    (state as { for?: unknown }).for !== expected.for
  ) {
    throw new ActionLogValidationError([{ path: field, message: 'is not a cursor actionlog returned' }], 'read options');
  }
  return checked(state as CursorState, expected, field);
}

function checked(state: CursorState, expected: Pick<CursorState, 'for' | 'kind' | 'order' | 'filter'>, field: string): CursorState {
  if (state.kind !== expected.kind || state.order !== expected.order || state.filter !== expected.filter) {
    throw new ActionLogValidationError(
      [{ path: field, message: 'belongs to another query (a different kind, order or filter)' }],
      'read options',
    );
  }
  return state;
}

/**
 * The position a query or tail cursor holds, refused naming `field` unless `store` could have made it: said before
 * anything is read, not by the store's first query.
 */
export function positionOf(state: CursorState, store: Pick<Store, 'checkPosition'>, field = 'cursor'): EntryPosition {
  const time = state.time === undefined ? new Date(0) : new Date(state.time);
  if (Number.isNaN(time.getTime()) || typeof state.id !== 'string' || typeof state.seq !== 'string') {
    throw new ActionLogValidationError([{ path: field, message: 'is not a cursor actionlog returned' }], 'read options');
  }
  const position = { time, id: state.id, seq: state.seq };
  const problem = store.checkPosition?.(position);
  if (problem) throw positionError(problem, field);
  return position;
}

/** The cursor of a position, for one query. */
export function cursorAt(position: EntryPosition, query: Pick<CursorState, 'for' | 'kind' | 'order' | 'filter'>): string {
  return encodeCursor({ ...query, time: position.time.toISOString(), id: position.id, seq: position.seq });
}
