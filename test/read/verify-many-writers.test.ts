import { describe, expect, it } from 'vitest';
import { ChainChecker, DATED_AHEAD_MS, type ReadLink } from '../../src/read/verify/chains.js';
import type { ChainClaims } from '../../src/read/verify/checkpoints.js';
import { Findings } from '../../src/read/verify/report.js';

// A trail many short-lived writers wrote (serverless cold starts, restarts): hundreds or thousands of chains, each
// with fewer than EDGE_LINKS links in a window, read interleaved in time order, as verify({ from, to }) reads them.

/** One writer: links `from`..`to` of its chain; now and then one read `lateBy` of its links later than sealed. */
interface Writer {
  chain: string;
  from: number;
  to: number;
  /** When its first link is read, in ticks (one tick per link of each writer). */
  startsAt: number;
  /** An activity is sealed before its request's documents but holds a later time: read after them. */
  lateBy: number;
  /** One link in so many is read late. */
  lateEvery: number;
  /** Sequences deleted from the store. */
  deleted?: number[];
  /** The sequences its checkpoints signed, each when (in ticks); none by default. */
  heads?: Array<{ seq: number; at: number }>;
}

/** The window's `to`, in ticks: past every link read, as the writers below are laid out. */
const TO = 100_000;

/** A small deterministic generator, for the same trail every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
}

/** A writer's sequences in the order they are read: sealed in order, a few read `lateBy` links later. */
function readOrder(writer: Writer, next: () => number): number[] {
  const seqs = Array.from({ length: writer.to - writer.from + 1 }, (_, i) => writer.from + i);
  for (let i = 0; i + writer.lateBy < seqs.length; i++) {
    if (next() >= 1 / writer.lateEvery) continue;
    const [late] = seqs.splice(i, 1);
    seqs.splice(i + writer.lateBy, 0, late as number);
    i += writer.lateBy;
  }
  const deleted = new Set(writer.deleted);
  return seqs.filter((seq) => !deleted.has(seq));
}

/** Every writer's links merged in time order, as verify reads the trail. */
function trail(writers: Writer[]): Array<[string, number]> {
  const next = random(7);
  const timed: Array<[number, string, number]> = [];
  for (const writer of writers) {
    readOrder(writer, next).forEach((seq, k) => timed.push([writer.startsAt + k + next() / 2, writer.chain, seq]));
  }
  return timed.sort((a, b) => a[0] - b[0]).map(([, chain, seq]) => [chain, seq]);
}

const linkOf = (chain: string, seq: number): ReadLink => ({
  chain,
  seq,
  prev: seq === 1 ? '0'.repeat(64) : `${chain}/${seq - 1}`,
  hash: `${chain}/${seq}`,
  intact: true,
  kind: 'actions',
  id: `${chain}/${seq}`,
  archived: false,
});

/** What a writer's checkpoints claim: the heads it signed (no Merkle root checked), and that it closed at its last link. */
function claimsOf(writer: Writer): ChainClaims {
  const heads = (writer.heads ?? []).map(({ seq, at }) => {
    return {
      seq,
      hash: linkOf(writer.chain, seq).hash,
      from_seq: null,
      merkle_root: null,
      uid: `${writer.chain}:${seq}`,
      at: new Date(at),
    };
  });
  return { heads, vouched: [], closedAt: writer.to, pruned: [] };
}

/** Checks the trail in a window cutting entries off at both ends: its findings, and the most links waiting at once. */
function verifyWindow(writers: Writer[]): { findings: string[]; mostWaiting: number } {
  const claims = new Map<string, ChainClaims>(writers.map((w) => [w.chain, claimsOf(w)]));
  const findings = new Findings(100);
  // Checkpoints signed by TO cover entries dated by the window's end: it lies DATED_AHEAD_MS after.
  const window = { startEdge: true, endEdge: true, to: new Date(TO + DATED_AHEAD_MS) };
  const checker = new ChainChecker(claims, findings, { ...window, archivesGiven: false });
  let mostWaiting = 0;
  for (const [chain, seq] of trail(writers)) {
    checker.add(linkOf(chain, seq));
    mostWaiting = Math.max(mostWaiting, checker.waitingLinks);
  }
  checker.finish();
  const list = findings.list.map(
    (f) => `${f.problem} ${f.chain}:${f.seq}${f.to_seq !== undefined && f.to_seq !== f.seq ? `-${f.to_seq}` : ''}`,
  );
  return { findings: list, mostWaiting };
}

/** Checkpoints every 100 links from `from` to `to`, each signed a tick after its head was sealed. */
const every100 = (from: number, to: number, startsAt = 0) =>
  Array.from({ length: Math.floor(to / 100) - Math.floor((from - 1) / 100) }, (_, i) => {
    const seq = (Math.floor((from - 1) / 100) + i + 1) * 100;
    return { seq, at: startsAt + seq - from + 1 };
  });

/** `count` writers named `${prefix}${i}`, each shaped by `shape(i)`. */
const writers = (count: number, prefix: string, shape: (i: number) => Omit<Writer, 'chain'>): Writer[] =>
  Array.from({ length: count }, (_, i) => ({ chain: `${prefix}${i}`, ...shape(i) }));

describe('a window of a trail many short-lived writers wrote', () => {
  it('an untouched trail of 300 writers of 400 links each, all at once, has no finding, and few links wait', () => {
    const trailOf = writers(300, 'w', () => ({ from: 1, to: 400, startsAt: 0, lateBy: 3, lateEvery: 10 }));
    const { findings, mostWaiting } = verifyWindow(trailOf);
    expect(findings).toEqual([]);
    // Links wait behind a link read a little late, not for their chain to reach a length it never reaches.
    expect(mostWaiting).toBeLessThan(5000);
  });

  it('an untouched trail of 4000 cold starts beside 5 long-lived writers has no finding', () => {
    // Each long-lived writer now and then seals an activity 200 of its links before its request's documents.
    const busy = writers(5, 'busy', () => ({ from: 1, to: 900, startsAt: 0, lateBy: 200, lateEvery: 100 }));
    const cold = writers(4000, 'cold', (i) => ({ from: 1, to: 30, startsAt: i * 0.05, lateBy: 3, lateEvery: 10 }));
    expect(verifyWindow([...busy, ...cold]).findings).toEqual([]);
  });

  it('an untouched trail of a thousand writers alive at the window start beside a busy one has no finding', () => {
    // Writers that began before the window: their first links there may come late, so they wait to start.
    const alive = writers(1000, 'alive', () => ({ from: 51, to: 160, startsAt: 0, lateBy: 3, lateEvery: 10 }));
    const busy = writers(1, 'busy', () => ({ from: 1, to: 3000, startsAt: 0, lateBy: 300, lateEvery: 50 }));
    expect(verifyWindow([...alive, ...busy]).findings).toEqual([]);
  });

  it('reports a link deleted in the middle of one of 300 writers of 400 links each, by its chain and sequence', () => {
    const trailOf = writers(300, 'w', () => ({ from: 1, to: 400, startsAt: 0, lateBy: 3, lateEvery: 10, heads: every100(1, 400) }));
    trailOf[17]!.deleted = [200];
    expect(verifyWindow(trailOf).findings).toEqual(['deleted w17:200']);
  });

  it('reports the deleted newest links of a writer that a checkpoint signed before the window ended', () => {
    const trailOf = writers(300, 'w', () => ({ from: 1, to: 400, startsAt: 0, lateBy: 3, lateEvery: 10, heads: every100(1, 400) }));
    trailOf[17]!.deleted = range(351, 400);
    expect(verifyWindow(trailOf).findings).toEqual(['truncated w17:351-400']);
  });

  it('does not judge links missing after the last checkpoint signed by `to`: they may be dated past it', () => {
    // The writer's activity 395 is dated past `to`; its request's documents, sealed after it, are dated before.
    const trailOf = writers(300, 'w', () => ({ from: 1, to: 400, startsAt: 0, lateBy: 3, lateEvery: 10, heads: every100(1, 400) }));
    trailOf[17]!.deleted = [395];
    trailOf[17]!.heads = [...every100(1, 300), { seq: 400, at: TO + 1 }];
    expect(verifyWindow(trailOf).findings).toEqual([]);
  });

  it('does not judge links missing near the start of a writer alive at `from`, though a checkpoint signed them', () => {
    // Its request under way at `from`: the activity 52 in the window, the request's document 53 dated before it.
    const trailOf = writers(300, 'w', (i) => ({ from: 51, to: 400, startsAt: i, lateBy: 3, lateEvery: 10, heads: every100(51, 400, i) }));
    trailOf[17]!.deleted = [53];
    expect(verifyWindow(trailOf).findings).toEqual([]);
  });
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
