import { createReadStream, statSync } from 'node:fs';
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

/** Why `file` cannot be read as an archive file, or undefined when it can. */
export function archiveFileProblem(file: string): string | undefined {
  try {
    return statSync(file).isFile() ? undefined : `${file} is not a file`;
  } catch (error) {
    return `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
}

interface ArchivedLine {
  kind: EntryKind;
  _id: string;
  entry: Entry;
}

/** A part of a file, in bytes, `end` included (as `createReadStream` takes it). */
interface Span {
  start: number;
  end: number;
}

/** Where to read an archive file from: `path` names it in errors (`archives.0`). */
export interface ArchiveFile {
  file: string;
  path: string;
  window: { from?: Date | undefined; to?: Date | undefined };
  pageSize: number;
}

/**
 * The sources of a file that `archive` wrote to a stream (`{ kind, _id, entry }` per line): per kind, one for each
 * run of its lines whose times never go back. Lines of one archive run are in time order, but a later run can move
 * entries older than some already moved (one that expired early, a batch copied again after a kill), and the time
 * order of the whole check rests on each source's. Found by a first pass over the file; each source then reads its
 * span, a page at a time. Returns, beside them, why part of the file could not be read (a torn last line).
 */
export async function archiveFileSources(archive: ArchiveFile): Promise<{ sources: EntrySource[]; notes: string[] }> {
  const spans = new Map<EntryKind, Span[]>();
  const last = new Map<EntryKind, number>();
  const notes: string[] = [];
  for await (const line of archiveLines(archive)) {
    if (line.torn) {
      notes.push(
        `${archive.path}: the last line of ${archive.file} is cut short (an archive run stopped mid-write), ${line.bytes} bytes left unread`,
      );
      continue;
    }
    const { kind, entry } = line.archived;
    const time = timeAt(kind, entry).getTime();
    const list = spans.get(kind) ?? [];
    spans.set(kind, list);
    const current = list.at(-1);
    if (current && time >= (last.get(kind) ?? 0)) current.end = line.end;
    else list.push({ start: line.start, end: line.end });
    last.set(kind, time);
  }
  const sources = [...spans].flatMap(([kind, list]) =>
    list.map((span): EntrySource => ({ kind, archived: true, pages: archivePages(archive, kind, span) })),
  );
  return { sources, notes };
}

/** The entries of one kind in a span of an archive file, inside the window, a page at a time. */
async function* archivePages(archive: ArchiveFile, kind: EntryKind, span: Span): AsyncGenerator<StoredEntry[]> {
  const { from, to } = archive.window;
  let page: StoredEntry[] = [];
  for await (const line of archiveLines(archive, span)) {
    if (line.torn || line.archived.kind !== kind) continue;
    const { _id, entry } = line.archived;
    const time = timeAt(kind, entry);
    if ((from && !(time >= from)) || (to && !(time <= to))) continue;
    page.push({ entry, position: { time, id: _id, seq: String(line.start) } });
    if (page.length === archive.pageSize) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** An archived entry's time: JSON holds it as text. */
const timeAt = (kind: EntryKind, entry: Entry): Date => new Date(timeOf(kind, entry));

type ReadLine = Span & ({ torn: false; archived: ArchivedLine } | { torn: true; bytes: number });

/**
 * The lines of a file, or of a span of it, each parsed, with its place in bytes. A line that is not an archived
 * entry is refused, naming it, but for a last one without a newline: the torn end of a run stopped mid-write.
 */
async function* archiveLines(archive: ArchiveFile, span?: Span): AsyncGenerator<ReadLine> {
  try {
    for await (const { start, end, text, ended } of fileLines(archive.file, span)) {
      if (text.trim() === '') continue;
      const archived = archivedLine(text);
      if (archived) yield { start, end, torn: false, archived };
      else if (!ended) yield { start, end, torn: true, bytes: end - start + 1 };
      else throw notAnEntry(archive, start);
    }
  } catch (error) {
    if (error instanceof ActionLogValidationError) throw error;
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ActionLogValidationError([{ path: archive.path, message: `cannot read ${archive.file}: ${reason}` }], 'verify options');
  }
}

const notAnEntry = (archive: ArchiveFile, at: number) =>
  new ActionLogValidationError(
    [{ path: archive.path, message: `the line at byte ${at} of ${archive.file} is not an archived entry` }],
    'verify options',
  );

const NEWLINE = 0x0a;

/** The lines of a file (or a span of it) as UTF-8 text, with the bytes each spans and whether a newline ends it. */
async function* fileLines(file: string, span?: Span): AsyncGenerator<Span & { text: string; ended: boolean }> {
  let held: Buffer = Buffer.alloc(0);
  let at = span?.start ?? 0;
  for await (const chunk of createReadStream(file, span ?? {})) {
    let buffer: Buffer = held.length > 0 ? Buffer.concat([held, chunk as Buffer]) : (chunk as Buffer);
    for (let newline = buffer.indexOf(NEWLINE); newline !== -1; newline = buffer.indexOf(NEWLINE)) {
      yield { start: at, end: at + newline - 1, text: buffer.toString('utf8', 0, newline), ended: true };
      at += newline + 1;
      buffer = buffer.subarray(newline + 1);
    }
    held = buffer;
  }
  // A span ends where its last line does, without its newline.
  if (held.length > 0) yield { start: at, end: at + held.length - 1, text: held.toString('utf8'), ended: span !== undefined };
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
 * kind or source they are in, with one page per source in memory. Sources left unread are closed.
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
  try {
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
  } finally {
    const open = cursors.filter((c) => !c.done && c.source.pages.return !== undefined);
    await Promise.allSettled(open.map(async (c) => c.source.pages.return?.()));
  }
}
