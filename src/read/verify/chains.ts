import { GENESIS } from '../../build/integrity/canonical.js';
import { merkleRoot } from '../../build/integrity/merkle.js';
import type { PrunedRange } from '../../shared/document.js';
import type { ChainClaims } from './checkpoints.js';
import type { Findings, VerifyFinding } from './report.js';

/** One link as read back, with whether its content still hashes to it. */
export interface ReadLink {
  chain: string;
  seq: number;
  prev: string;
  hash: string;
  /** The recomputed hash matches. */
  intact: boolean;
  kind: VerifyFinding['kind'];
  id: string | null;
  /** Read from an archive rather than the trail's store. */
  archived: boolean;
}

/** Links read ahead of their turn, across all chains, before a missing one is declared deleted anyway. */
const MAX_WAITING = 100_000;
/** Links taken last, across all chains, that an archive's copy read later is recognized by (a batch at most apart). */
const RECENT = 20_000;
/**
 * In a window of the trail, how many links of a chain may arrive past a missing one before the gap is judged: links
 * are sealed in the writer's order but read in time order (an activity sealed before its request's documents holds a
 * later time), so near the window's edges a missing link may be one whose time is outside it.
 */
export const EDGE_LINKS = 1000;
/**
 * How far ahead of its writer's clock an entry may be dated (an event the application gives with another system's
 * time): a checkpoint signed this long before a window's `to` covers only entries dated by `to`.
 */
export const DATED_AHEAD_MS = 5 * 60_000;

interface ChainState {
  /** The next sequence expected; undefined before the first (a window of the trail starts anywhere). */
  expect: number | undefined;
  last: ReadLink | undefined;
  waiting: Map<number, ReadLink[]>;
  /** Hashes since the last signed head, for its Merkle root; null once one is missing. */
  merkle: string[] | null;
  headIndex: number;
  /** The first sequence taken, and `arrivals` then. */
  first: number | undefined;
  startedAt: number;
  /** Links of the chain read so far. */
  arrivals: number;
  /** `arrivals` when links began to wait behind a missing one (or, in a window, for the chain's start). */
  waitingSince: number | undefined;
  /** In a window: the `arrivals` at which each waiting sequence came. */
  arrivedAt: Map<number, number>;
}

/**
 * Follows every chain in sequence order as links arrive (nearly in order: the trail is read in time order), with
 * memory bounded by the links waiting for a missing one.
 */
export class ChainChecker {
  private readonly chains = new Map<string, ChainState>();
  private waitingCount = 0;
  /** With archives: `chain:seq` of the links taken last, with each one's link, and those keys in a ring, oldest next. */
  private readonly recent = new Map<string, ReadLink>();
  private readonly recentKeys: string[] = [];
  private recentAt = 0;
  /** Per chain, the ranges its checkpoints record as lost. */
  private readonly lostByChain = new Map<string, PrunedRange[]>();

  constructor(
    private readonly claims: ReadonlyMap<string, ChainClaims>,
    private readonly findings: Findings,
    private readonly read: {
      /**
       * Entries before the window's `from` exist: a chain starts at its lowest link there, not at 1, and links sealed
       * before it but read late (within `EDGE_LINKS`) are the edge's.
       */
      startEdge: boolean;
      /**
       * Entries past the window's `to` exist: the links missing among the last read of a chain are the edge's, but
       * for those a checkpoint its writer signed by `to` covers.
       */
      endEdge: boolean;
      /** The window's `to`: with `endEdge`, what each writer signed by then is judged (see `signedBy`). */
      to?: Date;
      /** Archives are read too: what an archive moved is looked for there, not taken as pruned. */
      archivesGiven: boolean;
    },
  ) {}

  /** Every entry is read: a chain starts at 1 and ends at its newest signed head. */
  private get whole(): boolean {
    return !this.read.startEdge && !this.read.endEdge;
  }

  get chainCount(): number {
    return this.chains.size;
  }

  /** Links held until their turn comes: what the check keeps in memory beyond one state per chain. */
  get waitingLinks(): number {
    return this.waitingCount;
  }

  add(link: ReadLink): void {
    let state = this.chains.get(link.chain);
    if (!state) {
      state = {
        expect: this.read.startEdge ? undefined : 1,
        last: undefined,
        waiting: new Map(),
        merkle: [],
        headIndex: 0,
        first: undefined,
        startedAt: 0,
        arrivals: 0,
        waitingSince: undefined,
        arrivedAt: new Map(),
      };
      this.chains.set(link.chain, state);
    }
    state.arrivals++;
    if (!link.intact) this.report('modified', link, 'its content does not match its hash');
    // A link before the chain's first one taken in the window, read soon after: sealed earlier, its time inside.
    if (this.read.startEdge && state.first !== undefined && link.seq < state.first && state.arrivals - state.startedAt <= EDGE_LINKS)
      return;
    if (state.expect !== undefined && link.seq < state.expect) {
      const taken = this.recent.get(`${link.chain}:${link.seq}`);
      if (!taken || !isCopy(taken, link))
        this.report('inserted', link, `sequence ${link.seq} came after sequence ${state.expect - 1} was checked`);
      return;
    }
    // A chain's first link: its writer began inside the window, so no link before it can come late and the chain
    // starts here at once. Waiting for `EDGE_LINKS` arrivals instead held all the links of every shorter chain
    // (a trail of many short-lived writers) until `MAX_WAITING` forced judgments on chains at random.
    if (link.seq === 1) state.expect ??= 1;
    const list = state.waiting.get(link.seq) ?? [];
    list.push(link);
    state.waiting.set(link.seq, list);
    this.waitingCount++;
    const windowed = !this.whole;
    if (windowed) state.arrivedAt.set(link.seq, state.arrivals);
    this.advance(link.chain, state, false);
    if (windowed) this.judgeOldGap(link.chain, state);
    if (this.waitingCount > MAX_WAITING) this.forceOne();
  }

  /**
   * In a window: once `EDGE_LINKS` links arrived past a missing one (or past the chain's first, to start it), the
   * gap is no edge and is judged, as it would be at the end of a whole read.
   */
  private judgeOldGap(chain: string, state: ChainState): void {
    if (state.waiting.size === 0) {
      state.waitingSince = undefined;
      return;
    }
    state.waitingSince ??= state.arrivals;
    // Nothing has waited that long: no need to find which link waits longest.
    if (state.arrivals - state.waitingSince < EDGE_LINKS) return;
    while (state.waiting.size > 0) {
      const since = state.arrivedAt.get(lowestOf(state.waiting)) ?? state.arrivals;
      if (state.arrivals - since < EDGE_LINKS) break;
      this.advance(chain, state, true);
    }
    let oldest: number | undefined;
    for (const since of state.arrivedAt.values()) if (oldest === undefined || since < oldest) oldest = since;
    state.waitingSince = oldest;
  }

  /** After the last link: what is still missing, and what no checkpoint covers. */
  finish(): void {
    for (const [chain, state] of this.chains) {
      // In a window whose `to` leaves entries out, what still waits may be at that edge: what is missing is judged
      // only up to the newest link its writer signed by `to`.
      const judgeThrough = this.read.endEdge ? this.signedBy(chain) : Number.POSITIVE_INFINITY;
      while (state.waiting.size > 0) this.advance(chain, state, true, judgeThrough);
      const claims = this.claims.get(chain);
      const head = claims ? newestSigned(claims) : 0;
      const last = state.last?.seq ?? (state.expect ?? 1) - 1;
      // A missing tail a checkpoint signed: in a window, only what its edges cannot have left out.
      const through = Math.min(head, judgeThrough);
      if (through > last && !this.nearCutStart(state, last + 1)) this.gap(chain, last + 1, through, 'truncated');
      if (last > head && claims?.closedAt === undefined) {
        this.findings.add({
          problem: 'unconfirmed',
          kind: null,
          id: null,
          chain,
          seq: Math.max(head + 1, state.first ?? head + 1),
          to_seq: last,
          message: 'written after the newest signed checkpoint of its chain',
        });
      }
    }
    // Chains only checkpoints know of: their entries are all gone.
    if (!this.whole) return;
    for (const [chain, claims] of this.claims) {
      if (this.chains.has(chain)) continue;
      const head = newestSigned(claims);
      if (head > 0) this.gap(chain, 1, head, 'truncated');
    }
  }

  /**
   * Takes the waiting links of a chain in order while they follow on; `force` skips over a missing one (reported up
   * to `judgeThrough`, unless the window's start may have left it out). In a window, the chain starts only when
   * forced or at its first link: its first links in the window may come late.
   */
  private advance(chain: string, state: ChainState, force: boolean, judgeThrough = Number.POSITIVE_INFINITY): void {
    if (state.expect === undefined && !force) return;
    for (;;) {
      if (state.waiting.size === 0) return;
      // Most often the next link is there: no need to look for the lowest.
      const lowest = state.expect !== undefined && state.waiting.has(state.expect) ? state.expect : lowestOf(state.waiting);
      const expect = state.expect ?? lowest;
      if (lowest > expect) {
        if (!force && !this.isPruned(chain, expect, lowest - 1)) return;
        const through = Math.min(lowest - 1, judgeThrough);
        if (through >= expect && !this.nearCutStart(state, expect)) this.gap(chain, expect, through, 'deleted');
        // Across links recorded lost, the chain is still checked: the record signs the hash of the last one, and
        // the Merkle roots leave lost links out. Across any other gap, the next link starts afresh.
        const across = this.lostThrough(chain, expect, lowest - 1);
        state.last = across;
        if (!across) state.merkle = null;
      }
      const links = state.waiting.get(lowest) ?? [];
      state.waiting.delete(lowest);
      state.arrivedAt.delete(lowest);
      this.waitingCount -= links.length;
      this.take(chain, state, links);
      state.expect = lowest + 1;
      force = false;
    }
  }

  private take(chain: string, state: ChainState, links: ReadLink[]): void {
    const link = links[0];
    if (!link) return;
    for (let i = 1; i < links.length; i++) {
      const other = links[i] as ReadLink;
      if (!isCopy(link, other)) this.report('inserted', other, `a second entry at sequence ${other.seq}`);
    }
    if (this.read.archivesGiven) this.remember(`${chain}:${link.seq}`, link);
    const closedAt = this.claims.get(chain)?.closedAt;
    if (closedAt !== undefined && link.seq > closedAt) this.report('inserted', link, `past the end of its chain (closed at ${closedAt})`);
    const expectedPrev = state.last ? state.last.hash : link.seq === 1 ? GENESIS : undefined;
    if (expectedPrev !== undefined && link.prev !== expectedPrev)
      this.report('reordered', link, `its prev is not the hash of sequence ${link.seq - 1}`);
    state.last = link;
    if (state.first === undefined) {
      state.first = link.seq;
      state.startedAt = state.arrivals;
    }
    this.checkHead(chain, state, link);
    for (const vouched of this.claims.get(chain)?.vouched ?? []) {
      if (vouched.seq === link.seq && vouched.hash !== link.hash)
        this.report('modified', link, `checkpoint ${vouched.uid} signed another hash for this sequence`);
    }
  }

  /** Keeps a taken link among the last `RECENT`, forgetting the oldest (a ring: no walk over the map). */
  private remember(key: string, link: ReadLink): void {
    const oldest = this.recentKeys[this.recentAt];
    if (oldest !== undefined) this.recent.delete(oldest);
    this.recentKeys[this.recentAt] = key;
    this.recentAt = (this.recentAt + 1) % RECENT;
    this.recent.set(key, link);
  }

  /** At a signed head: the hash it signed, and the Merkle root of the hashes since the head before. */
  private checkHead(chain: string, state: ChainState, link: ReadLink): void {
    const heads = this.claims.get(chain)?.heads ?? [];
    while (state.headIndex < heads.length && (heads[state.headIndex]?.seq ?? 0) < link.seq) {
      state.headIndex++;
      state.merkle = null;
    }
    const head = heads[state.headIndex];
    if (head?.from_seq !== undefined && head.from_seq === link.seq) state.merkle = [];
    // A lost link found stored after all (a write that failed after the store took part of it) is in no root.
    if (!this.lostAt(chain, link.seq)) state.merkle?.push(link.hash);
    if (!head || head.seq !== link.seq) return;
    if (head.hash !== link.hash) this.report('modified', link, `checkpoint ${head.uid} signed another hash for this sequence`);
    else if (
      state.merkle &&
      head.from_seq !== null &&
      state.merkle.length === head.seq - head.from_seq + 1 - this.lostCount(chain, head.from_seq, head.seq) &&
      merkleRoot(state.merkle) !== head.merkle_root
    ) {
      this.report('modified', link, `the hashes up to checkpoint ${head.uid} do not match its Merkle root`);
    }
    state.headIndex++;
    state.merkle = null;
  }

  /**
   * In a window whose start cut the chain (its writer began before it): whether `seq` is among the first links
   * after the chain's first one there. A request under way at `from` has its activities (later times) in the window
   * and its documents (its start time) before it, though sealed after them: links missing there are the edge's.
   */
  private nearCutStart(state: ChainState, seq: number): boolean {
    return this.read.startEdge && state.first !== undefined && state.first > 1 && seq - state.first <= EDGE_LINKS;
  }

  /**
   * In a window whose `to` leaves entries out: the newest link of the chain its own writer signed by then, less
   * `DATED_AHEAD_MS` (0 for none). A checkpoint signs links already sealed, and a link's time is given before it is sealed (unless the
   * application gave a later one): links up to that head are dated by `to`, so one missing there is no edge's.
   */
  private signedBy(chain: string): number {
    const to = this.read.to?.getTime();
    let through = 0;
    if (to === undefined) return through;
    const by = to - DATED_AHEAD_MS;
    for (const head of this.claims.get(chain)?.heads ?? []) if (head.at.getTime() <= by) through = Math.max(through, head.seq);
    return through;
  }

  /**
   * Bounds memory when too many links wait: the chain with the most links waiting for its start starts (its links
   * read late are still the edge's: nothing is judged); only when no chain waits to start does the one with the most
   * links waiting behind a missing link skip it (reported deleted, though it may still come).
   */
  private forceOne(): void {
    const [chain, state] = this.mostWaiting((state) => state.expect === undefined) ?? this.mostWaiting(() => true) ?? [];
    if (chain !== undefined && state) this.advance(chain, state, true);
  }

  private mostWaiting(which: (state: ChainState) => boolean): [string, ChainState] | undefined {
    let most: [string, ChainState] | undefined;
    for (const entry of this.chains) {
      if (entry[1].waiting.size > 0 && which(entry[1]) && (!most || entry[1].waiting.size > most[1].waiting.size)) most = entry;
    }
    return most;
  }

  private lostOf(chain: string): readonly PrunedRange[] {
    let ranges = this.lostByChain.get(chain);
    if (!ranges) this.lostByChain.set(chain, (ranges = (this.claims.get(chain)?.pruned ?? []).filter((range) => range.lost)));
    return ranges;
  }

  private lostAt(chain: string, seq: number): PrunedRange | undefined {
    return this.lostOf(chain).find((range) => range.from <= seq && seq <= range.to);
  }

  private lostCount(chain: string, from: number, to: number): number {
    return this.lostOf(chain).reduce((n, range) => n + Math.max(0, Math.min(to, range.to) - Math.max(from, range.from) + 1), 0);
  }

  /** When `from`..`to` are all recorded lost: the last of them as a link, its hash as signed, for the next `prev`. */
  private lostThrough(chain: string, from: number, to: number): ReadLink | undefined {
    if (!coveredBy(this.lostOf(chain), from, to).every((part) => part.pruned)) return undefined;
    const hash = this.lostAt(chain, to)?.hash;
    if (!hash) return undefined;
    return { chain, seq: to, prev: '', hash, intact: true, kind: null, id: null, archived: false };
  }

  private isPruned(chain: string, from: number, to: number): boolean {
    return coveredBy(this.excused(chain), from, to).every((part) => part.pruned);
  }

  /** The ranges of a chain whose absence is no finding: what purges deleted, and archives moved unless they are read. */
  private excused(chain: string): readonly PrunedRange[] {
    const pruned = this.claims.get(chain)?.pruned ?? [];
    return this.read.archivesGiven ? pruned.filter((range) => range.archived !== true) : pruned;
  }

  /**
   * A run of missing sequences: the parts a checkpoint records as lost are `lost`, those a retention checkpoint
   * covers are pruned, the rest `problem`; with archives read, the parts an archive moved are `deleted` from them.
   */
  private gap(chain: string, from: number, to: number, problem: 'deleted' | 'truncated'): void {
    for (const part of coveredBy(this.claims.get(chain)?.pruned ?? [], from, to)) {
      if (!part.pruned)
        this.missing(
          chain,
          part,
          problem,
          problem === 'truncated' ? 'missing: a signed checkpoint covers them' : 'missing between stored entries',
        );
      else for (const recorded of coveredBy(this.lostOf(chain), part.from, part.to)) this.recordedGap(chain, recorded);
    }
  }

  /** Missing sequences a checkpoint records: lost, pruned, or moved by an archive and not in the archives given. */
  private recordedGap(chain: string, { from, to, pruned: lost }: { from: number; to: number; pruned: boolean }): void {
    if (lost) {
      this.missing(
        chain,
        { from, to },
        'lost',
        'never stored: the writer gave up on them and reported it (a signed checkpoint records it)',
      );
      return;
    }
    for (const sub of coveredBy(this.excused(chain), from, to)) {
      if (sub.pruned) this.missing(chain, sub, 'pruned', 'deleted by a purge or an archive (a signed checkpoint records it)');
      else this.missing(chain, sub, 'deleted', 'moved by an archive (a signed checkpoint records it), and in none of the archives given');
    }
  }

  private missing(chain: string, part: { from: number; to: number }, problem: VerifyFinding['problem'], message: string): void {
    this.findings.add({ problem, kind: null, id: null, chain, seq: part.from, to_seq: part.to, message });
  }

  private report(problem: VerifyFinding['problem'], link: ReadLink, message: string): void {
    this.findings.add({ problem, kind: link.kind, id: link.id, chain: link.chain, seq: link.seq, message });
  }
}

/** The newest sequence a signed checkpoint names for a chain, its writer's own or one vouched for by another. */
function newestSigned(claims: ChainClaims): number {
  return Math.max(claims.heads.at(-1)?.seq ?? 0, claims.vouched.at(-1)?.seq ?? 0);
}

function lowestOf(waiting: ReadonlyMap<number, unknown>): number {
  let lowest = Number.POSITIVE_INFINITY;
  for (const seq of waiting.keys()) if (seq < lowest) lowest = seq;
  return lowest;
}

/** An archive's copy of an entry (an archive run killed before it deleted its batch, then run again): no second entry. */
const isCopy = (a: ReadLink, b: ReadLink): boolean => a.hash === b.hash && (a.archived || b.archived);

/**
 * `from`..`to` cut into the parts pruned ranges cover and those they do not; ranges that follow on (a purge's
 * batches, each recorded on its own) make one part.
 */
export function coveredBy(ranges: readonly PrunedRange[], from: number, to: number): Array<{ from: number; to: number; pruned: boolean }> {
  const parts: Array<{ from: number; to: number; pruned: boolean }> = [];
  const add = (part: { from: number; to: number; pruned: boolean }) => {
    const last = parts.at(-1);
    if (last?.pruned === part.pruned && last.to + 1 === part.from) last.to = part.to;
    else parts.push(part);
  };
  const sorted = [...ranges].filter((r) => r.to >= from && r.from <= to).sort((a, b) => a.from - b.from);
  let at = from;
  for (const r of sorted) {
    if (r.to < at) continue;
    if (r.from > at) add({ from: at, to: r.from - 1, pruned: false });
    const end = Math.min(r.to, to);
    add({ from: Math.max(at, r.from), to: end, pruned: true });
    at = end + 1;
    if (at > to) break;
  }
  if (at <= to) add({ from: at, to, pruned: false });
  return parts;
}
