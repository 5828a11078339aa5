import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync, renameSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** Lock paths held by loggers of this process: an owner name of this process is alive while its lock is here. */
const HELD = Symbol.for('actionlog.spool-locks');
const held: Set<string> = ((globalThis as { [HELD]?: Set<string> })[HELD] ??= new Set());
/** Spools opened by this process, by every copy of the package (ESM and CommonJS, two versions): owner names never repeat. */
const COUNT = Symbol.for('actionlog.spool-instances');
const instances: { next: number } = ((globalThis as { [COUNT]?: { next: number } })[COUNT] ??= { next: 0 });

/** The machine's boot id, when the system has one: a pid names a process only within one boot. */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '').slice(0, 12) || 'noboot';
  } catch {
    return 'noboot';
  }
}

/**
 * The host name, hashed: containers on one machine share its boot id but each has a host name (kept when it is
 * restarted), and each numbers its own processes from 1.
 */
export const hostTag = (): string => createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** This process's PID namespace (`/proc/self/ns/pid`), where there is one: a pid is only meaningful within it. */
export function pidNamespace(): string {
  try {
    return /\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0] ?? '';
  } catch {
    return '';
  }
}

/**
 * The owner name of a new spool of this process: boot id, host, pid, and which logger of the process; never one of
 * `taken` (the names whose files are in the folder: a container restarted is pid 1 again, as its earlier run was).
 */
export function ownerName(taken: ReadonlySet<string>): string {
  for (;;) {
    const name = `${bootId()}-h${hostTag()}-${process.pid}-${instances.next++}`;
    if (!taken.has(name)) return name;
  }
}

/**
 * How long a process of another container keeps its files after it last renewed its lock (its pid cannot be
 * looked up from here). A spool renews its lock every `LEASE_MS / 6`.
 */
export const LEASE_MS = 60_000;

export const lockPath = (dir: string, owner: string) => join(dir, `${owner}.lock`);

/**
 * When a process started, in clock ticks since boot (`/proc/<pid>/stat`, field 22); undefined where there is no
 * such file. With the pid, it names one process: a pid taken again by another one has another start.
 */
export function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: the fields after it are counted from there.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** What a lock file holds: the pid, the process's start and its PID namespace when known. */
export const lockText = () => `${process.pid} ${startOf(process.pid) ?? ''} ${pidNamespace()}\n`;

/** Marks a lock as renewed now; false when it is gone. */
export function renewLock(path: string): boolean {
  try {
    const now = new Date();
    utimesSync(path, now, now);
    return true;
  } catch {
    return false;
  }
}
export const segmentPath = (dir: string, owner: string, n: number) => join(dir, `${owner}-${String(n).padStart(8, '0')}.spool`);

export function holdLock(path: string): void {
  held.add(path);
}

export function releaseLock(path: string): void {
  held.delete(path);
}

/** `<boot>-h<host>-<pid>-<n>-<seq>.spool`; earlier versions wrote no host. */
const SEGMENT = /^([0-9a-z]+)(?:-h([0-9a-f]{8}))?-(\d+)-(\d+)-(\d{8})\.spool$/;
const LOCK = /^([0-9a-z]+(?:-h[0-9a-f]{8})?-\d+-\d+)\.lock$/;

export interface OwnerFiles {
  owner: string;
  boot: string;
  /** Its host tag; undefined for files of earlier versions. */
  host: string | undefined;
  pid: number;
  segments: string[];
  oldest: number;
  newest: number;
}

/** The owner names of the files in `dir`: segments and locks. */
export function ownersIn(dir: string): Set<string> {
  const names = new Set<string>();
  for (const name of readdirSync(dir)) {
    const owner = SEGMENT.exec(name) ? name.slice(0, name.lastIndexOf('-')) : LOCK.exec(name)?.[1];
    if (owner) names.add(owner);
  }
  return names;
}

/**
 * Segments of owners that are gone (another boot, a process no longer running, or one of another container that
 * stopped renewing its lock), oldest owner first.
 */
export function deadOwners(dir: string): OwnerFiles[] {
  const owners = new Map<string, OwnerFiles>();
  for (const name of readdirSync(dir)) {
    const m = SEGMENT.exec(name);
    if (!m) continue;
    const owner = name.slice(0, name.lastIndexOf('-'));
    let entry = owners.get(owner);
    if (!entry) {
      const [, boot = '', host, pid] = m;
      entry = { owner, boot, host, pid: Number(pid), segments: [], oldest: Number.POSITIVE_INFINITY, newest: 0 };
      owners.set(owner, entry);
    }
    entry.segments.push(join(dir, name));
    const mtime = mtimeOf(join(dir, name));
    entry.oldest = Math.min(entry.oldest, mtime);
    entry.newest = Math.max(entry.newest, Number.isFinite(mtime) ? mtime : 0);
  }
  const dead = [...owners.values()].filter((o) => !isAlive(dir, o));
  for (const o of dead) o.segments.sort();
  return dead.sort((a, b) => a.oldest - b.oldest);
}

function isAlive(dir: string, o: OwnerFiles): boolean {
  if (o.boot !== bootId()) return false;
  const lock = lockPath(dir, o.owner);
  const namespace = lockedField(lock, 2);
  const sameHost = o.host === undefined || o.host === hostTag();
  // A process of another container (another host name, or another PID namespace under a pid other than this
  // process's): alive while it renews its lock, which it does as long as it runs.
  if (!sameHost || (namespace !== undefined && namespace !== pidNamespace() && o.pid !== process.pid)) {
    // Without its lock (not written yet, or removed), its newest write stands for it.
    return renewedWithinLease(lock, o.newest);
  }
  if (o.pid === process.pid) {
    // A lock of this very process is alive while a logger of this thread holds it. Else it is another thread's
    // (worker threads share the pid, not `held`), alive while renewed; or an earlier process's that had the same
    // pid (a container restarted: the pid is 1 again, the boot and the host name the same), which started apart.
    if (held.has(lock)) return true;
    const started = lockedField(lock, 1);
    const own = startOf(process.pid);
    if (started !== undefined && own !== undefined && started !== own) return false;
    // Without its lock, closed (a logger removes it as it closes).
    return renewedWithinLease(lock, Number.NaN);
  }
  try {
    process.kill(o.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A process runs under that pid: the owner's only if it started when the owner's lock says (else the pid was
  // taken again after the owner died). Locks of versions before this one hold no start.
  const started = lockedField(lock, 1);
  return started === undefined || started === startOf(o.pid);
}

/** Whether a lock was renewed within the lease; a lock that is gone counts as renewed at `missing` (ms). */
function renewedWithinLease(lock: string, missing: number): boolean {
  const renewed = mtimeOf(lock, Number.NaN);
  return Date.now() - (Number.isNaN(renewed) ? missing : renewed) < LEASE_MS;
}

/** A field a lock file recorded (1: the process's start, 2: its PID namespace); undefined when none, or it is gone. */
function lockedField(path: string, field: 1 | 2): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim().split(' ')[field] || undefined;
  } catch {
    return undefined;
  }
}

function mtimeOf(path: string, missing = Number.POSITIVE_INFINITY): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return missing;
  }
}

/**
 * Takes a dead owner's segment by renaming it to `to`. The rename is atomic: of two processes adopting at once,
 * one gets each segment. False when another process took it first.
 */
export function claim(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone (adopted or removed by another process).
  }
}
