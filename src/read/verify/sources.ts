import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ActionLogValidationError } from '../../shared/errors.js';
import { timeOf } from '../../stores/memory/entry-filter.js';
import type { Entry, EntryKind, EntryPosition, Store, StoredEntry, StoreFilter } from '../../stores/store.js';

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

/**
 * The entries of one kind in a file that `archive` wrote to a stream (`{ kind, _id, entry }` per line), in file
 * order, which is time order within a kind. Read as a stream: memory holds one page. A line glued to the torn end of
 * one before it (a run killed mid-write, then run again) is read from where its own JSON starts.
 */
export async function* archiveFilePages(
  file: string,
  kind: EntryKind,
  window: { from?: Date | undefined; to?: Date | undefined },
  pageSize: number,
  path: string,
): AsyncGenerator<StoredEntry[]> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let page: StoredEntry[] = [];
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    const archived = archivedLine(line);
    if (!archived)
      throw new ActionLogValidationError([{ path, message: `line ${number} of ${file} is not an archived entry` }], 'verify options');
    if (archived.kind !== kind) continue;
    // A date written as text: the Date of it.
    const time = new Date(timeOf(kind, archived.entry));
    if ((window.from && !(time >= window.from)) || (window.to && !(time <= window.to))) continue;
    page.push({ entry: archived.entry, position: { time, id: archived._id, seq: String(number) } });
    if (page.length === pageSize) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

interface ArchivedLine {
  kind: EntryKind;
  _id: string;
  entry: Entry;
}

const LINE_START = '{"kind":';

/** A line as `archive` wrote it, or the whole line that follows a torn one on the same line; undefined when neither. */
function archivedLine(line: string): ArchivedLine | undefined {
  for (let at = 0; at !== -1; at = line.indexOf(LINE_START, at + 1)) {
    const parsed = parsedLine(line.slice(at));
    if (parsed) return parsed;
  }
  return undefined;
}

function parsedLine(text: string): ArchivedLine | undefined {
  try {
    const value = JSON.parse(text) as Partial<Record<keyof ArchivedLine, unknown>> | null;
    const ok = typeof value?.kind === 'string' && typeof value._id === 'string' && typeof value.entry === 'object' && value.entry !== null;
    return ok ? (value as unknown as ArchivedLine) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every entry of every source, merged in time order, so that a chain's links arrive close to their order whatever
 * kind or source they are in, with one page per source in memory.
 */
export async function* inTimeOrder(
  sources: readonly EntrySource[],
): AsyncGenerator<{ kind: EntryKind; archived: boolean; stored: StoredEntry }> {
  const cursors = sources.map((source) => ({ source, page: [] as StoredEntry[], at: 0, done: false }));
  const fill = async (c: (typeof cursors)[number]) => {
    while (!c.done && c.at >= c.page.length) {
      const next = await c.source.pages.next();
      c.done = next.done === true;
      c.page = next.done ? [] : next.value;
      c.at = 0;
    }
  };
  for (;;) {
    await Promise.all(cursors.map(fill));
    let next: (typeof cursors)[number] | undefined;
    for (const c of cursors) {
      const head = c.page[c.at];
      if (head && (!next || head.position.time < (next.page[next.at] as StoredEntry).position.time)) next = c;
    }
    if (!next) return;
    const stored = next.page[next.at++] as StoredEntry;
    yield { kind: next.source.kind, archived: next.source.archived, stored };
  }
}
