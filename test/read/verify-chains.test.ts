import { describe, expect, it } from 'vitest';
import { ChainChecker, EDGE_LINKS, type ReadLink } from '../../src/read/verify/chains.js';
import type { ChainClaims } from '../../src/read/verify/checkpoints.js';
import { Findings } from '../../src/read/verify/report.js';

/** Link `seq` of chain `c`, each naming the hash of the one before. */
const link = (seq: number): ReadLink => ({
  chain: 'c',
  seq,
  prev: seq === 1 ? '0'.repeat(64) : `h${seq - 1}`,
  hash: `h${seq}`,
  intact: true,
  kind: 'actions',
  id: String(seq),
  archived: false,
});

/**
 * The problems found in links read in this order, as `problem seq[-to_seq]`; the chain closed at `closedAt`. A
 * window (`true`) leaves entries out at both ends, or at those named.
 */
function check(seqs: number[], window: boolean | { startEdge: boolean; endEdge: boolean }, closedAt = Math.max(...seqs)): string[] {
  const claims = new Map<string, ChainClaims>([['c', { heads: [], vouched: [], closedAt, pruned: [] }]]);
  const findings = new Findings(100);
  const edges = typeof window === 'boolean' ? { startEdge: window, endEdge: window } : window;
  const checker = new ChainChecker(claims, findings, { ...edges, archivesGiven: false });
  for (const seq of seqs) checker.add(link(seq));
  checker.finish();
  return findings.list.map((f) => `${f.problem} ${f.seq}${f.to_seq !== undefined && f.to_seq !== f.seq ? `-${f.to_seq}` : ''}`);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// Links are sealed in the writer's order and read in time order: an activity sealed before its request's documents
// holds a later time, so its link is read after theirs.
describe('the chains of a window of the trail (verify with from or to)', () => {
  it('starts a chain at its lowest link when the first ones are read late, as a whole read does', () => {
    expect(check([2, 3, 4, 1, 5, 6], true)).toEqual([]);
    expect(check([2, 3, 4, 1, 5, 6], false)).toEqual([]);
  });

  it('does not judge links missing at its edges: sealed in the window, stored with a time outside it', () => {
    // The window starts at link 10 (9 is before it) and ends at 30 (29's time is past it).
    expect(check([11, 12, 10, ...range(13, 28), 30], true, 40)).toEqual([]);
  });

  it('does not judge the documents of a request under way at its start: sealed after its activity, dated before it', () => {
    // 5 is an activity inside the window; 6, its request's document, holds the request's start time, before `from`.
    expect(check([5, ...range(7, 5 + 2 * EDGE_LINKS)], true)).toEqual([]);
    expect(check([5, ...range(7, 400)], { startEdge: true, endEdge: false })).toEqual([]);
  });

  it('judges a link missing in its middle, once many links came past it', () => {
    const seqs = range(1, EDGE_LINKS + 50).filter((seq) => seq !== 20);
    expect(check(seqs, true)).toEqual(['deleted 20']);
  });

  it('judges a link read twice or out of place inside it', () => {
    expect(check([...range(1, EDGE_LINKS + 10), 5], true)).toEqual(['inserted 5']);
  });

  it('leaves out a link sealed before the window started, read soon after its chain started there', () => {
    expect(check([...range(50, 60), 49, ...range(61, EDGE_LINKS + 60)], true, EDGE_LINKS + 60)).toEqual([]);
  });

  it('reports a link far below the window start, read long after the chain started there (a forged entry)', () => {
    // No writer reorders 20 000 links: a forged entry (a valid hash of its own content) claiming sequence 3.
    const seqs = [...range(5000, 5000 + 20 * EDGE_LINKS), 3, ...range(5001 + 20 * EDGE_LINKS, 5000 + 22 * EDGE_LINKS)];
    expect(check(seqs, true, 5000 + 22 * EDGE_LINKS)).toEqual(['inserted 3']);
  });
});
