import { createReadStream, statSync } from 'node:fs';
import { ActionLogStoreError } from '../../shared/errors.js';
import { timeOf } from '../../stores/memory/entry-filter.js';
import { KINDS } from '../../stores/purge.js';
import type { Entry, EntryKind, StoredEntry } from '../../stores/store.js';
import type { EntrySource } from './sources.js';

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

/** Entries a run of a file reads at a time at least, however many runs share the memory of a page. */
const MIN_RUN_PAGE = 16;

/**
 * The sources of a file that `archive` wrote to a stream (`{ kind, _id, entry }` per line): per kind, one for each
 * run of its lines whose times never go back. Lines of one archive run are in time order, but a later run can move
 * entries older than some already moved (one that expired early, a batch copied again after a kill), and the time
 * order of the whole check rests on each source's. Found by a first pass over the file; each source then reads its
 * span a page at a time, opening the file for each page, and the runs of a file share one page's worth of entries.
 * Returns, beside them, why part of the file could not be read: a torn last line, a line that is not an entry
 * (left out: the chain then shows what it held as missing).
 */
export async function archiveFileSources(archive: ArchiveFile): Promise<{ sources: EntrySource[]; notes: string[] }> {
  const spans = new Map<EntryKind, Span[]>();
  const last = new Map<EntryKind, number>();
  const notes: string[] = [];
  for await (const line of archiveLines(archive)) {
    if (line.unread !== undefined) {
      notes.push(`${archive.path}: ${line.unread}`);
      continue;
    }
    const { kind } = line.archived;
    const list = spans.get(kind) ?? [];
    spans.set(kind, list);
    const current = list.at(-1);
    if (current && line.time >= (last.get(kind) ?? 0)) current.end = line.end;
    else list.push({ start: line.start, end: line.end });
    last.set(kind, line.time);
  }
  const runs = [...spans.values()].reduce((n, list) => n + list.length, 0);
  const pageSize = Math.max(MIN_RUN_PAGE, Math.floor(archive.pageSize / Math.max(1, runs)));
  const sources = [...spans].flatMap(([kind, list]) =>
    list.map((span): EntrySource => ({ kind, archived: true, pages: archivePages({ ...archive, pageSize }, kind, span) })),
  );
  return { sources, notes };
}

/** The entries of one kind in a span of an archive file, inside the window, a page at a time. */
async function* archivePages(archive: ArchiveFile, kind: EntryKind, span: Span): AsyncGenerator<StoredEntry[]> {
  const { from, to } = archive.window;
  for (let at = span.start; at <= span.end;) {
    const page: StoredEntry[] = [];
    // From where the page before ended, to the page's last line: the file is open for one page at a time.
    for await (const line of archiveLines(archive, { start: at, end: span.end })) {
      at = line.end + 2;
      if (line.unread !== undefined || line.archived.kind !== kind) continue;
      const time = new Date(line.time);
      if ((from && !(time >= from)) || (to && !(time <= to))) continue;
      page.push({ entry: line.archived.entry, position: { time, id: line.archived._id, seq: String(line.start) } });
      if (page.length === archive.pageSize) break;
    }
    if (page.length === 0) return;
    yield page;
  }
}

const KNOWN_KINDS = new Set<string>(KINDS);

type ReadLine = Span & ({ unread?: undefined; archived: ArchivedLine; time: number } | { unread: string });

/**
 * The lines of a file, or of a span of it, each parsed, with its place in bytes and its entry's time; a line that is
 * not an archived entry with a kind and a time says so (`unread`): a torn last one, without its newline, is the end
 * of a run stopped mid-write. An error reading the file is thrown as a store's.
 */
async function* archiveLines(archive: ArchiveFile, span?: Span): AsyncGenerator<ReadLine> {
  const lines = fileLines(archive.file, span);
  try {
    for (;;) {
      let next: IteratorResult<Span & { text: string; ended: boolean }>;
      try {
        next = await lines.next();
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new ActionLogStoreError(`${archive.path}: cannot read ${archive.file}: ${reason}`, 0, { cause: error });
      }
      if (next.done) return;
      const { start, end, text, ended } = next.value;
      if (text.trim() === '') continue;
      const archived = archivedLine(text);
      const time = archived ? new Date(timeOf(archived.kind, archived.entry)).getTime() : Number.NaN;
      if (archived && Number.isFinite(time)) yield { start, end, archived, time };
      else if (!ended)
        yield {
          start,
          end,
          unread: `the last line of ${archive.file} is cut short (an archive run stopped mid-write), ${end - start + 1} bytes left unread`,
        };
      else yield { start, end, unread: `the line at byte ${start} of ${archive.file} is not an archived entry with a kind and a time` };
    }
  } finally {
    // Stopped early (a page is full): the file is closed.
    await lines.return(undefined);
  }
}

const NEWLINE = 0x0a;

/**
 * The lines of a file (or a span of it) as UTF-8 text, with the bytes each spans and whether a newline ends it. A
 * line longer than a read is kept in parts and joined once its newline comes.
 */
async function* fileLines(file: string, span?: Span): AsyncGenerator<Span & { text: string; ended: boolean }> {
  const parts: Buffer[] = [];
  let at = span?.start ?? 0;
  const line = (piece: Buffer): Buffer => {
    if (parts.length === 0) return piece;
    const whole = Buffer.concat([...parts, piece]);
    parts.length = 0;
    return whole;
  };
  for await (const read of createReadStream(file, span ?? {})) {
    const chunk = read as Buffer;
    let from = 0;
    for (let newline = chunk.indexOf(NEWLINE); newline !== -1; newline = chunk.indexOf(NEWLINE, from)) {
      const bytes = line(chunk.subarray(from, newline));
      yield { start: at, end: at + bytes.length - 1, text: bytes.toString('utf8'), ended: true };
      at += bytes.length + 1;
      from = newline + 1;
    }
    if (from < chunk.length) parts.push(chunk.subarray(from));
  }
  // A span ends where its last line does, without its newline.
  if (parts.length > 0) {
    const bytes = line(Buffer.alloc(0));
    yield { start: at, end: at + bytes.length - 1, text: bytes.toString('utf8'), ended: span !== undefined };
  }
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
    const ok =
      typeof value?.kind === 'string' &&
      KNOWN_KINDS.has(value.kind) &&
      typeof value._id === 'string' &&
      typeof value.entry === 'object' &&
      value.entry !== null;
    return ok ? (value as unknown as ArchivedLine) : undefined;
  } catch {
    return undefined;
  }
}
