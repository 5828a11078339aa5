import { readFileSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
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

/** The owner name of a new spool of this process: boot id, pid, and which logger of the process. */
export function ownerName(): string {
  return `${bootId()}-${process.pid}-${instances.next++}`;
}

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

/** What a lock file holds: the pid, and the process's start when known. */
export const lockText = () => `${process.pid} ${startOf(process.pid) ?? ''}\n`;
export const segmentPath = (dir: string, owner: string, n: number) => join(dir, `${owner}-${String(n).padStart(8, '0')}.spool`);

export function holdLock(path: string): void {
  held.add(path);
}

export function releaseLock(path: string): void {
  held.delete(path);
}

const SEGMENT = /^([0-9a-z]+)-(\d+)-(\d+)-(\d{8})\.spool$/;

export interface OwnerFiles {
  owner: string;
  boot: string;
  pid: number;
  segments: string[];
  oldest: number;
}

/**
 * Segments of owners that are gone (another boot, or a process no longer running), oldest owner first; with `me`'s
 * own, when an earlier process of the same name left some (call it before taking the lock).
 */
export function deadOwners(dir: string): OwnerFiles[] {
  const owners = new Map<string, OwnerFiles>();
  for (const name of readdirSync(dir)) {
    const m = SEGMENT.exec(name);
    if (!m) continue;
    const owner = `${m[1]}-${m[2]}-${m[3]}`;
    let entry = owners.get(owner);
    if (!entry) {
      entry = { owner, boot: m[1] ?? '', pid: Number(m[2]), segments: [], oldest: Number.POSITIVE_INFINITY };
      owners.set(owner, entry);
    }
    entry.segments.push(join(dir, name));
    entry.oldest = Math.min(entry.oldest, mtimeOf(join(dir, name)));
  }
  const dead = [...owners.values()].filter((o) => !isAlive(dir, o));
  for (const o of dead) o.segments.sort();
  return dead.sort((a, b) => a.oldest - b.oldest);
}

function isAlive(dir: string, o: OwnerFiles): boolean {
  if (o.boot !== bootId()) return false;
  // A lock of this very process is alive while a logger holds it; otherwise it is an earlier process's that had
  // the same pid (a container restarted: the pid is 1 again, the boot the host's).
  if (o.pid === process.pid) return held.has(lockPath(dir, o.owner));
  try {
    process.kill(o.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A process runs under that pid: the owner's only if it started when the owner's lock says (else the pid was
  // taken again after the owner died). Locks of versions before this one hold no start.
  const started = lockedStart(lockPath(dir, o.owner));
  return started === undefined || started === startOf(o.pid);
}

/** The start a lock file recorded, if any (undefined when it holds none, or is gone). */
function lockedStart(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim().split(' ')[1] || undefined;
  } catch {
    return undefined;
  }
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
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
