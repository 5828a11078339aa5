import {
  close,
  closeSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  unlink,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { ActionLogError } from '../../shared/errors.js';
import {
  claim,
  deadOwners,
  holdLock,
  LEASE_MS,
  lockPath,
  type OwnerFiles,
  lockText,
  ownerName,
  ownersIn,
  releaseLock,
  removeQuietly,
  renewLock,
  segmentPath,
} from './spool-dir.js';
import { decodeLine, type LineMac, type SpooledUnit } from './spool-line.js';

export interface SpoolFileOptions {
  dir: string;
  maxBytes: number;
  fsync: 'group' | 'always';
  fsyncIntervalMs: number;
  fsyncEvery: number;
  /** With `integrity`: the MAC of the lines, written and checked. */
  mac?: LineMac;
}

/** One file of the spool. Positions count bytes over all segments, in order, so that one number says how far. */
interface Segment {
  path: string;
  /** Position of its first byte. */
  base: number;
  size: number;
  /** Lines in it (complete or not). */
  lines: number;
  /** Lines handed out (or skipped as torn) so far: the rest wait to be read back. */
  passed: number;
  /** Bytes handed out (read back, or kept in memory when written). */
  readOffset: number;
  /** Bytes at its start all settled while it was open: the open segment is written on rather than replaced. */
  spent: number;
  /** End of the last settled unit. */
  settledOffset: number;
  /** Units handed out and not settled yet. */
  pending: number;
  /** A read of it is under way: `dropOldest` must leave it (what the read brings back gets stored). */
  reading: boolean;
  /** When its first line was spooled; unknown for an adopted segment until read. */
  firstAt: number | undefined;
  fd: number | undefined;
  /** The integrity links its lines carry, as a run of one chain's sequences (its lines were sealed in order). */
  links?: LinkRun;
  /** A dead process's, adopted: what its lines carry is known only once they are read. */
  adopted: boolean;
  /** Taken by another process (see `recoverTaken`): its file is that process's, never deleted from here. */
  taken?: boolean;
}

/** A file's size and its lines, complete or not. */
interface FileLines {
  size: number;
  lines: number;
}

/** Sequences `from`..`to` of one integrity chain. */
export interface LinkRun {
  chain: string;
  from: number;
  to: number;
}

/** Where a unit's line lies: settle it with this once it is stored. */
export interface SpoolPlace {
  segment: Segment;
  end: number;
}

/** How much a read brings back at most (longer lines are read whole). */
const READ_CHUNK = 1 << 20;
/**
 * An open segment whose lines are all settled is written on until it holds this much, and only then replaced:
 * creating and deleting a file each time the store catches up would put file-system metadata work on the
 * requests' path. A crash replays at most this much already stored (duplicates are refused).
 */
const REUSE_BYTES = 1 << 20;
/** Every how many renewals of the lock a running spool looks for files of processes that died since it opened. */
const ADOPT_EVERY = 3;

/**
 * This process's spool: append-only segment files `<boot>-h<host>-<pid>-<n>-<seq>.spool` in `dir`, the segments of dead
 * processes adopted at open and every half minute after. Lines are appended whole with one write; a segment is
 * deleted once every unit in it is settled (stored or quarantined).
 */
export class SpoolFiles {
  /** Named at open, apart from every owner whose files are in the folder. */
  private owner = '';
  private lock = '';
  /** Renews the lock, for processes of other containers sharing the folder, which cannot look this one's pid up. */
  private renewal: NodeJS.Timeout | undefined;
  /** Whether the renewal looks for files of processes that died since (not once the writer is closing). */
  private adopting = true;
  /** When the lock was last renewed (`Date.now()`). */
  private renewedAt = 0;
  /** The files of dead processes being counted, then claimed, while the spool runs (see `adoptLate`). */
  private adoptingLate: Promise<void> | undefined;
  private readonly segments: Segment[] = [];
  private next = 1;
  private endPos = 0;
  private unsynced = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  /**
   * Segments being deleted in the background, each with its deletion done: `close` finishes the job, since the
   * process may exit right after, and `deleted` waits for it.
   */
  private readonly unlinking = new Map<string, Promise<void>>();
  private readonly segmentBytes: number;
  /** Lines skipped as torn or damaged. */
  torn = 0;

  constructor(
    private readonly options: SpoolFileOptions,
    private readonly report: (error: Error) => void,
  ) {
    this.segmentBytes = Math.min(64 << 20, Math.max(4096, Math.floor(options.maxBytes / 8)));
  }

  /**
   * Creates the folder, adopts the segments of dead processes (theirs are replayed first), takes the lock. While it
   * runs, the spool adopts those of processes that die later too (`onAdopted` is told how many lines it took, or,
   * negative, how many another process took from it: see `recoverTaken`).
   */
  open(onAdopted: (lines: number) => void = () => {}): { adopted: number } {
    mkdirSync(this.options.dir, { recursive: true });
    this.owner = ownerName(ownersIn(this.options.dir));
    this.lock = lockPath(this.options.dir, this.owner);
    const adopted = this.adopt(deadOwners(this.options.dir));
    writeFileSync(this.lock, lockText());
    this.renewedAt = Date.now();
    holdLock(this.lock);
    let renewals = 0;
    this.renewal = setInterval(() => {
      const change = this.renew();
      if (change !== 0) onAdopted(change);
      if (++renewals % ADOPT_EVERY === 0 && this.adopting) this.adoptLate(onAdopted);
    }, LEASE_MS / 6).unref();
    return { adopted };
  }

  /** Renews the lock and takes back what a stall past the lease left to another process; returns the change in lines held. */
  private renew(): number {
    try {
      if (!renewLock(this.lock)) writeFileSync(this.lock, lockText());
      this.renewedAt = Date.now();
    } catch (error) {
      this.report(new ActionLogError(`the spool's lock ${this.lock} cannot be renewed: ${(error as Error).message}`));
    }
    try {
      return this.recoverTaken();
    } catch (error) {
      this.report(new ActionLogError(`the spool's files in ${this.options.dir} cannot be looked through: ${(error as Error).message}`));
      return 0;
    }
  }

  /**
   * Adopts the segments of processes that died since the spool opened: a replica replaced by one under another host
   * name (a new pod) leaves its files to whichever process of the folder looks next, and none may start for days.
   * They are counted first, under their owners' names, a chunk at a time: a dead replica may leave the whole of its
   * spool (32 MB a file by default), and the requests served meanwhile must not wait for it. Then claimed at once.
   */
  private adoptLate(onAdopted: (lines: number) => void): void {
    if (this.adoptingLate) return;
    let dead: OwnerFiles[];
    try {
      dead = deadOwners(this.options.dir);
    } catch (error) {
      this.report(
        new ActionLogError(
          `the spool folder ${this.options.dir} cannot be looked through for files of dead processes: ${(error as Error).message}`,
        ),
      );
      return;
    }
    if (dead.length === 0) return;
    this.adoptingLate = (async () => {
      const counted = new Map<string, FileLines>();
      for (const path of dead.flatMap((owner) => owner.segments)) {
        // A file taken by another process meanwhile, or unreadable: `adopt` finds out.
        const lines = await fileLines(path, () => this.adopting).catch(() => undefined);
        if (!this.adopting) return;
        if (lines) counted.set(path, lines);
      }
      // Looked at again: an owner only stalled may have come back during the count, and keeps its files.
      const counting = new Set(dead.map((owner) => owner.owner));
      const stillDead = deadOwners(this.options.dir).filter((owner) => counting.has(owner.owner));
      if (stillDead.length === 0) return;
      // Positions grow over the segments in order: the adopted ones go after the open one, which is closed first.
      this.closeOpen();
      const lines = this.adopt(stillDead, counted);
      if (lines > 0) onAdopted(lines);
    })()
      .catch((error: unknown) => {
        this.report(
          new ActionLogError(`the spool files of dead processes in ${this.options.dir} cannot be adopted: ${(error as Error).message}`),
        );
      })
      .finally(() => {
        this.adoptingLate = undefined;
      });
  }

  /** Resolves once a look for the files of dead processes under way (see `adoptLate`) is done. */
  async adoptions(): Promise<void> {
    await this.adoptingLate;
  }

  /**
   * After a stall past the lease (no renewal of the lock for a minute), another process may have taken this one for
   * dead and adopted its files: each segment gone from the folder is that process's now, and it read every line in
   * it as it took it. What this spool had not read back of them is forgotten (the other process stores it), but for
   * the segment it was writing: lines written to it since the other read it are only here, so its lines not yet
   * stored are written again to a segment of this spool's own (a document both store, the store refuses as a
   * duplicate). A segment being read is looked at next time. Returns the change in lines held.
   */
  private recoverTaken(): number {
    const taken = this.segments.filter((seg) => !seg.taken && !seg.reading && isGone(seg.path));
    if (taken.length === 0) return 0;
    const open = taken.find((seg) => seg.fd !== undefined);
    // Lines of the open segment copied to a segment of this spool's own.
    let copied = 0;
    if (open && open.settledOffset < open.size) {
      try {
        const bytes = Buffer.alloc(open.size - open.settledOffset);
        const copy = bytes.subarray(0, readSync(open.fd ?? -1, bytes, 0, bytes.length, open.settledOffset));
        const path = segmentPath(this.options.dir, this.owner, this.next);
        writeFileSync(path, copy, { flush: true });
        this.next++;
        copied = countLines(copy);
        this.segments.push(this.segment(path, copy.length, copied, { firstAt: open.firstAt, adopted: true }));
      } catch (error) {
        this.report(
          new ActionLogError(`the spool file ${open.path}, taken by another process, cannot be copied: ${(error as Error).message}`),
        );
      }
    }
    let change = copied;
    for (const seg of taken) {
      change -= seg.lines - seg.passed;
      this.closeSegment(seg, false);
      seg.taken = true;
      seg.passed = seg.lines;
      seg.readOffset = seg.size;
      seg.spent = seg.size;
      this.retire(seg);
    }
    holdLock(this.lock);
    this.report(
      new ActionLogError(
        `${taken.length} spool files of this process in ${this.options.dir} were taken by another one (as it takes the files of a process it finds dead: this one had not renewed its lock for a minute): that process stores them now` +
          (copied > 0 ? `; the ${copied} lines of the file this one was writing not stored yet are spooled again` : ''),
      ),
    );
    return change;
  }

  /**
   * Claims the segments of dead owners, in order, and removes their locks; returns how many lines they hold, as
   * `counted` says of a file still the size it had then, else read now. Never throws: a segment that cannot be
   * claimed or read is reported and left (given back) for a later look.
   */
  private adopt(dead: readonly OwnerFiles[], counted: ReadonlyMap<string, FileLines> = new Map()): number {
    let adopted = 0;
    for (const owner of dead) {
      for (const from of owner.segments) {
        const to = segmentPath(this.options.dir, this.owner, this.next);
        try {
          if (!claim(from, to)) continue;
          this.next++;
        } catch (error) {
          this.report(new ActionLogError(`the spool file ${from} of a dead process cannot be adopted: ${(error as Error).message}`));
          continue;
        }
        let found: FileLines;
        try {
          const known = counted.get(from);
          found = known !== undefined && known.size === statSync(to).size ? known : linesOf(readFileSync(to));
        } catch (error) {
          this.report(new ActionLogError(`the spool file ${from} of a dead process cannot be read: ${(error as Error).message}`));
          try {
            claim(to, from);
          } catch {
            // Left under this spool's name: the next start of the folder adopts it.
          }
          continue;
        }
        if (found.size === 0) {
          removeQuietly(to);
          continue;
        }
        this.segments.push(this.segment(to, found.size, found.lines, { adopted: true }));
        adopted += found.lines;
      }
      removeQuietly(lockPath(this.options.dir, owner.owner));
    }
    return adopted;
  }

  /** Adopts nothing more while running: once closing, what a dead process left stays under its name for others. */
  stopAdopting(): void {
    this.adopting = false;
  }

  /** Bytes of the spool on disk not settled yet. */
  get bytes(): number {
    return this.segments.reduce((sum, s) => sum + s.size - s.spent, 0);
  }

  get writePos(): number {
    return this.endPos;
  }

  /** Everything before this position is settled. */
  settledPos(): number {
    const first = this.segments.find((s) => s.pending > 0 || s.readOffset < s.size);
    if (!first) return this.endPos;
    return first.base + (first.pending > 0 ? first.settledOffset : first.readOffset);
  }

  /** Lines not handed out yet (a backlog to read back). */
  hasBacklog(): boolean {
    return this.segments.some((s) => s.readOffset < s.size);
  }

  /** When the oldest unit not settled was spooled, as far as known. */
  oldestAt(): number | undefined {
    return this.segments.find((s) => s.pending > 0 || s.readOffset < s.size)?.firstAt;
  }

  /**
   * Renews the lock at once when two renewals were missed (a stall: its timer did not run), before anything more is
   * written: another process may have taken this one for dead meanwhile and adopted its files, and what this one
   * wrote to them would be lost should it die before its next renewal (see `recoverTaken`). Returns the change in
   * lines held.
   */
  checkLease(): number {
    if (this.renewal === undefined || Date.now() - this.renewedAt < LEASE_MS / 3) return 0;
    return this.renew();
  }

  /**
   * Appends whole lines with one write; `handOut` when their units are kept in memory by the caller (no backlog to
   * read first). Returns where each line ends.
   */
  append(lines: Array<{ text: string; at: number; links?: LinkRun }>, handOut: boolean): SpoolPlace[] {
    const places: SpoolPlace[] = [];
    // A segment holds about `maxBytes / 8`, so that `drop-oldest` frees room by the eighth.
    for (let from = 0; from < lines.length;) {
      let seg = this.segments.at(-1);
      // Lines not handed out start a segment of their own, which `drop-oldest` can take whole.
      if (seg?.fd === undefined || seg.size >= this.segmentBytes || (!handOut && seg.spent > 0))
        seg = this.startSegment(lines[from]?.at ?? Date.now());
      else if (seg.spent === seg.size) seg.firstAt = lines[from]?.at;
      let to = from;
      let bytes = 0;
      while (to < lines.length && (to === from || seg.size + bytes < this.segmentBytes))
        bytes += Buffer.byteLength(lines[to++]?.text ?? '', 'utf8');
      places.push(...this.write(seg, lines.slice(from, to), handOut));
      from = to;
    }
    return places;
  }

  private write(seg: Segment, lines: Array<{ text: string; links?: LinkRun }>, handOut: boolean): SpoolPlace[] {
    const buffer = Buffer.from(lines.map((l) => l.text).join(''), 'utf8');
    const fd = seg.fd ?? -1;
    try {
      // At the segment's known end: what a failed write left past it is overwritten, never kept before a line.
      for (let done = 0; done < buffer.length;) done += writeSync(fd, buffer, done, buffer.length - done, seg.size + done);
    } catch (error) {
      // A disk that filled up mid-write leaves part of a line: cut it, or it would tear the next line written.
      try {
        ftruncateSync(fd, seg.size);
      } catch {
        // The next write, at the segment's end, overwrites it.
      }
      throw error;
    }
    const places: SpoolPlace[] = [];
    let offset = seg.size;
    for (const line of lines) {
      offset += Buffer.byteLength(line.text, 'utf8');
      places.push({ segment: seg, end: seg.base + offset });
      if (line.links) seg.links = seg.links ? { ...seg.links, to: line.links.to } : { ...line.links };
    }
    seg.size += buffer.length;
    seg.lines += lines.length;
    this.endPos = seg.base + seg.size;
    if (handOut) {
      seg.readOffset = seg.size;
      seg.pending += lines.length;
      seg.passed += lines.length;
    }
    this.sync(seg, lines.length);
    return places;
  }

  /**
   * Reads back up to `max` units not handed out yet and up to `maxBytes` of their lines, oldest first; a first line
   * longer than that only when the caller holds none (`alone`), else it waits for then. Torn or damaged lines are
   * reported and skipped.
   */
  async read(max: number, maxBytes = Number.POSITIVE_INFINITY, alone = true): Promise<Array<SpooledUnit & SpoolPlace & { bytes: number }>> {
    const seg = this.segments.find((s) => s.readOffset < s.size);
    if (!seg) return [];
    seg.reading = true;
    const handle = await open(seg.path, 'r').catch((error: unknown) => {
      seg.reading = false;
      throw error;
    });
    try {
      const units: Array<SpooledUnit & SpoolPlace & { bytes: number }> = [];
      let bytes = 0;
      let length = Math.min(READ_CHUNK, seg.size - seg.readOffset);
      for (;;) {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, seg.readOffset);
        const chunk = buffer.subarray(0, bytesRead);
        let start = 0;
        let full = false;
        for (let nl = chunk.indexOf(10); nl !== -1 && units.length < max; nl = chunk.indexOf(10, start)) {
          const size = nl + 1 - start;
          if (bytes + size > maxBytes && (units.length > 0 || !alone)) {
            full = true;
            break;
          }
          if (this.take(seg, chunk.subarray(start, nl), seg.readOffset + nl + 1, units)) bytes += size;
          seg.passed++;
          start = nl + 1;
        }
        if (start > 0 || full || units.length >= max) {
          seg.readOffset += start;
          break;
        }
        if (seg.readOffset + bytesRead >= seg.size) {
          // No newline up to the end: a line cut by a crash in the middle of its write.
          if (seg.fd === undefined) this.skipTorn(seg, seg.size - seg.readOffset, 'has no end');
          seg.passed = seg.lines;
          seg.readOffset = seg.size;
          break;
        }
        // A line longer than the room, and the caller holds some: it waits until the caller holds none.
        if (!alone && length > maxBytes) break;
        length = Math.min(length * 2, seg.size - seg.readOffset);
      }
      seg.pending += units.length;
      return units;
    } finally {
      // Retired before the close is awaited: a segment read to its end with nothing pending is settled from that
      // moment (`settledPos`), and `deleted()` must already know of its deletion.
      seg.reading = false;
      this.retire(seg);
      await handle.close();
    }
  }

  /** A unit's line is settled (stored or quarantined): its segment goes once nothing in it is left. */
  settle(place: SpoolPlace): void {
    const seg = place.segment;
    seg.pending--;
    seg.settledOffset = Math.max(seg.settledOffset, place.end - seg.base);
    this.retire(seg);
  }

  /**
   * Deletes the oldest segment none of whose units were handed out, to make room; returns how many units it held
   * and the links they carried (undefined when no segment can go). An adopted segment's links are another writer's,
   * unknown until read: with a MAC, its lines are read first, each handed to `read`.
   */
  dropOldest(read: (unit: SpooledUnit) => void): { lines: number; links: LinkRun | undefined } | undefined {
    const seg = this.segments.find((s) => !s.reading && s.readOffset === 0 && s.pending === 0 && s.size > 0);
    if (!seg) return undefined;
    if (seg.adopted && this.options.mac) this.readWhole(seg, read);
    this.closeSegment(seg, false);
    seg.readOffset = seg.size;
    this.retire(seg);
    return { lines: seg.lines, links: seg.links };
  }

  /** Each complete line of a segment, decoded (torn ones skipped: they are dropped with it). */
  private readWhole(seg: Segment, each: (unit: SpooledUnit) => void): void {
    let bytes: Buffer;
    try {
      bytes = readFileSync(seg.path);
    } catch (error) {
      this.report(new ActionLogError(`the spool file ${seg.path} cannot be read before it is dropped: ${(error as Error).message}`));
      return;
    }
    let unread = 0;
    let start = 0;
    for (let end = bytes.indexOf(10); end !== -1; start = end + 1, end = bytes.indexOf(10, start)) {
      const unit = decodeLine(bytes.toString('utf8', start, end), this.options.mac);
      if (unit) each(unit);
      else unread++;
    }
    if (start < bytes.length) unread++;
    if (unread > 0)
      this.report(
        new ActionLogError(
          `${unread} lines of the spool file ${seg.path}, dropped, are torn or damaged: their integrity links are not known, and show as deleted`,
        ),
      );
  }

  /** Resolves once the segments being deleted in the background are gone from the folder. */
  async deleted(): Promise<void> {
    await Promise.all(this.unlinking.values());
  }

  /** Deletes the open segment if every line in it is settled (else it is kept, to be written on). */
  dropSettled(): void {
    const seg = this.segments.at(-1);
    if (seg?.fd === undefined || seg.spent < seg.size) return;
    this.closeSegment(seg, false);
    this.retire(seg, true);
  }

  /** Syncs and closes the open segment and lets the lock go; segments still holding units stay for the next start. */
  close(): void {
    clearTimeout(this.syncTimer);
    clearInterval(this.renewal);
    this.renewal = undefined;
    this.adopting = false;
    for (const seg of this.segments) this.closeSegment(seg, !this.settled(seg));
    for (const seg of [...this.segments]) this.retire(seg, true);
    for (const path of this.unlinking.keys()) removeQuietly(path);
    this.unlinking.clear();
    removeQuietly(this.lock);
    releaseLock(this.lock);
  }

  /** A segment's state; `firstAt` unknown (an adopted file) until read, `adopted` when its lines' links are unknown. */
  private segment(path: string, size: number, lines: number, from: { firstAt?: number; adopted?: true }): Segment {
    const seg: Segment = {
      path,
      base: this.endPos,
      size,
      lines,
      passed: 0,
      readOffset: 0,
      spent: 0,
      settledOffset: 0,
      pending: 0,
      reading: false,
      firstAt: from.firstAt,
      fd: undefined,
      adopted: from.adopted === true,
    };
    this.endPos += size;
    return seg;
  }

  private startSegment(at: number): Segment {
    this.closeOpen();
    const path = segmentPath(this.options.dir, this.owner, this.next++);
    const seg = this.segment(path, 0, 0, { firstAt: at });
    // Readable too: a file another process took is read back through it (see `recoverTaken`).
    seg.fd = openSync(path, 'wx+');
    this.segments.push(seg);
    return seg;
  }

  /** Closes the segment written to, if any: the next append starts a new one. */
  private closeOpen(): void {
    const last = this.segments.at(-1);
    if (!last) return;
    this.closeSegment(last, this.settled(last) ? false : 'later');
    this.retire(last);
  }

  /** Decodes a line into `into`; false for a torn or damaged one (reported and skipped). */
  private take(seg: Segment, bytes: Buffer, endOffset: number, into: Array<SpooledUnit & SpoolPlace & { bytes: number }>): boolean {
    const decoded = decodeLine(bytes.toString('utf8'), this.options.mac);
    if (!decoded) {
      this.skipTorn(seg, bytes.length, 'fails its checksum');
      return false;
    }
    seg.firstAt ??= decoded.at;
    into.push({ ...decoded, segment: seg, end: seg.base + endOffset, bytes: bytes.length + 1 });
    return true;
  }

  private skipTorn(seg: Segment, bytes: number, why: string): void {
    this.torn++;
    this.report(new ActionLogError(`A spool line of ${bytes} bytes ${why} (torn by a crash or damaged); it is skipped: ${seg.path}`));
  }

  private settled(seg: Segment): boolean {
    return seg.pending === 0 && seg.readOffset === seg.size;
  }

  /**
   * Deletes a segment that holds nothing more (in the background unless `now`: at exit there is no later). The
   * open one is kept to be written on, while it is small.
   */
  private retire(seg: Segment, now = false): void {
    if (!this.settled(seg) || (seg.size === 0 && seg.fd !== undefined)) return;
    if (seg.fd !== undefined && seg.size < REUSE_BYTES) {
      seg.spent = seg.size;
      seg.firstAt = undefined;
      return;
    }
    // Deleted next: nothing in it needs to reach the disk.
    this.closeSegment(seg, false);
    if (seg.taken) {
      // Another process's file now.
    } else if (now) removeQuietly(seg.path);
    else {
      const path = seg.path;
      const deleted = new Promise<void>((resolve) => {
        unlink(path, () => {
          // An error means already gone (adopted or removed by another process).
          this.unlinking.delete(path);
          resolve();
        });
      });
      this.unlinking.set(path, deleted);
    }
    const i = this.segments.indexOf(seg);
    if (i !== -1) this.segments.splice(i, 1);
  }

  /**
   * Closes a segment's file, first syncing what it holds: at once (`true`), in the background (`'later'`, for a
   * segment replaced by a new one, which keeps the requests' path free of it), or not (it is about to be deleted).
   */
  private closeSegment(seg: Segment, sync: boolean | 'later' = true): void {
    const fd = seg.fd;
    if (fd === undefined) return;
    seg.fd = undefined;
    const unsynced = this.unsynced > 0;
    this.unsynced = 0;
    if (sync === 'later' && unsynced)
      fsync(fd, (error) => {
        if (error) this.report(new ActionLogError('fsync of the spool failed', { cause: error }));
        close(fd, () => {});
      });
    else {
      if (sync === true && unsynced) fsyncSync(fd);
      closeSync(fd);
    }
  }

  /** fsync: after every append (`always`), or once `fsyncEvery` lines or `fsyncIntervalMs` have passed (`group`). */
  private sync(seg: Segment, lines: number): void {
    const fd = seg.fd;
    if (fd === undefined) return;
    if (this.options.fsync === 'always') {
      fsyncSync(fd);
      return;
    }
    this.unsynced += lines;
    const now = () => {
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
      if (this.unsynced === 0 || seg.fd !== fd) return;
      this.unsynced = 0;
      fsync(fd, (error) => {
        if (error && seg.fd === fd) this.report(new ActionLogError('fsync of the spool failed', { cause: error }));
      });
    };
    if (this.unsynced >= this.options.fsyncEvery) now();
    else this.syncTimer ??= setTimeout(now, this.options.fsyncIntervalMs).unref();
  }
}

/** Whether a file is gone (any other failure to look at it says nothing). */
function isGone(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) === undefined;
  } catch {
    return false;
  }
}

function newlinesIn(bytes: Buffer): number {
  let lines = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  return lines;
}

function countLines(bytes: Buffer): number {
  // A last line without its newline is still a line (torn: it is reported when read).
  return newlinesIn(bytes) + (bytes.length > 0 && bytes.at(-1) !== 10 ? 1 : 0);
}

const linesOf = (bytes: Buffer): FileLines => ({ size: bytes.length, lines: countLines(bytes) });

/** A file's lines (as `countLines`), read a chunk at a time while `wanted()`; undefined once it is not. */
async function fileLines(path: string, wanted: () => boolean): Promise<FileLines | undefined> {
  const handle = await open(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let size = 0;
    let lines = 0;
    let last = 10;
    for (let n = 0; (n = (await handle.read(chunk, 0, chunk.length, size)).bytesRead) > 0; size += n) {
      if (!wanted()) return undefined;
      lines += newlinesIn(chunk.subarray(0, n));
      last = chunk[n - 1] ?? 10;
    }
    return { size, lines: last === 10 ? lines : lines + 1 };
  } finally {
    await handle.close();
  }
}
