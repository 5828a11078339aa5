import type { EntryKind, EntryPosition, Store, StoredEntry, StoreFilter } from '../../stores/store.js';

/** Entries of one kind in time order, a page at a time: from the trail's store, or from where `archive` moved some. */
export interface EntrySource {
  kind: EntryKind;
  archived: boolean;
  pages: AsyncIterator<StoredEntry[]>;
}

/** A store's entries of one kind by (time, id), a page per round trip. */
export async function* storePages(store: Store, kind: EntryKind, filter: StoreFilter, pageSize: number): AsyncGenerator<StoredEntry[]> {
  let after: EntryPosition | undefined;
  for (;;) {
    const page = await store.query({ kind, filter, by: 'time', order: 'asc', limit: pageSize, ...(after ? { after } : {}) });
    if (page.length === 0) return;
    yield page;
    after = (page.at(-1) as StoredEntry).position;
  }
}

interface Cursor {
  source: EntrySource;
  /** Its place among the sources: the first of two heads at one time goes first. */
  index: number;
  page: StoredEntry[];
  at: number;
  done: boolean;
}

/** Whether cursor `a`'s head goes before `b`'s. */
const before = (a: Cursor, b: Cursor): boolean => {
  const ta = (a.page[a.at] as StoredEntry).position.time.getTime();
  const tb = (b.page[b.at] as StoredEntry).position.time.getTime();
  return ta < tb || (ta === tb && a.index < b.index);
};

/** Moves the cursor at `i` of a binary heap down to its place (its head moved on to a later one). */
function siftDown(heap: Cursor[], i: number): void {
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let first = i;
    if (left < heap.length && before(heap[left] as Cursor, heap[first] as Cursor)) first = left;
    if (right < heap.length && before(heap[right] as Cursor, heap[first] as Cursor)) first = right;
    if (first === i) return;
    [heap[i], heap[first]] = [heap[first] as Cursor, heap[i] as Cursor];
    i = first;
  }
}

/**
 * Every entry of every source, merged in time order, so that a chain's links arrive close to their order whatever
 * kind or source they are in: a binary heap of the sources by their next entry, with one page per source in memory.
 * Sources left unread are closed.
 */
export async function* inTimeOrder(
  sources: readonly EntrySource[],
): AsyncGenerator<{ kind: EntryKind; archived: boolean; stored: StoredEntry }> {
  const cursors: Cursor[] = sources.map((source, index) => ({ source, index, page: [], at: 0, done: false }));
  const fill = async (c: Cursor) => {
    while (!c.done && c.at >= c.page.length) {
      const next = await c.source.pages.next();
      c.done = next.done === true;
      c.page = next.done ? [] : next.value;
      c.at = 0;
    }
  };
  try {
    await Promise.all(cursors.map(fill));
    const heap = cursors.filter((c) => c.at < c.page.length);
    for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) siftDown(heap, i);
    while (heap.length > 0) {
      const c = heap[0] as Cursor;
      const stored = c.page[c.at++] as StoredEntry;
      yield { kind: c.source.kind, archived: c.source.archived, stored };
      if (c.at >= c.page.length) await fill(c);
      if (c.at >= c.page.length) {
        const last = heap.pop() as Cursor;
        if (heap.length === 0) break;
        heap[0] = last;
      }
      siftDown(heap, 0);
    }
  } finally {
    const open = cursors.filter((c) => !c.done && c.source.pages.return !== undefined);
    await Promise.allSettled(open.map(async (c) => c.source.pages.return?.()));
  }
}
