import type { Entry, EntryKind, EntryPosition, Store, StoredEntry, StoreFilter, StoreQuery } from '../stores/store.js';
import { cursorAt, fingerprint } from './cursor.js';

/** One entry of a tail, with the cursor to resume right after it (an SSE `Last-Event-ID`). */
export interface TailItem<E = Entry> {
  entry: E;
  cursor: string;
}

export interface TailOptions {
  /** Resume after this cursor (from an earlier item); default: from now on, only entries stored after the call. */
  after?: string | null;
  /** How often the store is asked when nothing wakes the tail sooner. Default 1000 ms. */
  pollMs?: number;
  /** Stops the tail. */
  signal?: AbortSignal;
}

const PAGE = 200;

/** What the cursors of a tail belong to: its kind and filter, in stored order. */
export function tailQuery(kind: EntryKind, filter: StoreFilter) {
  return { for: 't' as const, kind, order: 'asc' as const, filter: fingerprint(kind, filter) };
}

/**
 * Follows the entries of a kind as they are stored, in the store's order, forever (until `signal` aborts or the
 * consumer stops iterating). The store's query is the source of truth; its `watch` (this process's writes, another
 * process's notifications) only makes the next query come sooner, so nothing is missed when a wake-up is.
 */
export async function* tailEntries(
  store: Store,
  kind: EntryKind,
  filter: StoreFilter,
  options: { after?: EntryPosition; pollMs: number; signal?: AbortSignal },
): AsyncGenerator<TailItem> {
  const query = tailQuery(kind, filter);
  let after = options.after ?? (await head(store, kind));
  // Set by the store's wake-up, also while a query is on its way: read after it returns.
  const watch: { wakes: number; wake?: () => void } = { wakes: 0 };
  const stopWatching = store.watch?.(() => {
    watch.wakes++;
    watch.wake?.();
  });
  const signal = options.signal;
  try {
    while (!signal?.aborted) {
      const wakes = watch.wakes;
      const found = await nextPage(store, { kind, filter, by: 'stored', order: 'asc', limit: PAGE, ...(after ? { after } : {}) }, signal);
      if (!found) return;
      for (const item of found) {
        after = item.position;
        yield { entry: item.entry, cursor: cursorAt(item.position, query) };
      }
      if (found.length === PAGE || watch.wakes !== wakes) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.pollMs);
        signal?.addEventListener('abort', done, { once: true });
        watch.wake = done;
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          watch.wake = undefined;
          resolve();
        }
      });
    }
  } finally {
    stopWatching?.();
  }
}

/**
 * The next page of the tail, or undefined when the tail was stopped while it was asked: the logger closing its store
 * under a query under way must end the tail, not fail it.
 */
async function nextPage(store: Store, query: StoreQuery, signal: AbortSignal | undefined): Promise<StoredEntry[] | undefined> {
  try {
    return await store.query(query);
  } catch (error) {
    if (signal?.aborted) return undefined;
    throw error;
  }
}

/**
 * The newest entry visible now: a tail without a cursor starts after it. Inactive actions count: one stored last
 * would otherwise be where now is not, and a tail with `include_inactive` would start before it.
 */
async function head(store: Store, kind: EntryKind): Promise<EntryPosition | undefined> {
  const filter = kind === 'actions' ? { include_inactive: true } : {};
  const [newest] = await store.query({ kind, filter, by: 'stored', order: 'desc', limit: 1 });
  return newest?.position;
}
