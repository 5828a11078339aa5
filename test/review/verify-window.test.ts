import { describe, expect, it } from 'vitest';
import { createActionLogger, MemoryStore } from 'actionlog';
import { ChainChecker, EDGE_LINKS, type ReadLink } from '../../src/read/verify/chains.js';
import type { ChainClaims } from '../../src/read/verify/checkpoints.js';
import { Findings } from '../../src/read/verify/report.js';
import { ed25519, linked, sealingLogger, writeTrail } from '../support/trail.js';

async function trailWithDeletion() {
  const store = new MemoryStore();
  const keys = ed25519();
  const anchors: Parameters<typeof sealingLogger>[2] = [];
  const logger = sealingLogger(store, keys.privateKey, anchors);
  await writeTrail(logger);
  await logger.close();
  const links = await linked(store);
  const middle = links[Math.floor(links.length / 2)]!;
  await store.remove!(middle.kind, [middle.stored.position.id]);
  const reader = createActionLogger({ store });
  const verify = (window: { from?: Date; to?: Date }) => reader.verify({ keys: [keys.publicKey], anchors, ...window });
  return { verify, middle, close: () => reader.close() };
}

describe('review: verify windows', () => {
  it('verify({ from }) before the whole trail still finds an entry deleted in the middle of a chain', async () => {
    const { verify, middle, close } = await trailWithDeletion();
    const whole = await verify({});
    expect(whole.status).toBe('tampered');
    // Observed: 'intact' — the chain has < EDGE_LINKS links, so every gap is "an edge" and never judged,
    // although no `to` was given (the end of the trail is no edge) and the window holds the whole trail.
    const windowed = await verify({ from: new Date(0) });
    await close();
    expect(windowed.status).toBe('tampered');
    expect(windowed.findings).toEqual(expect.arrayContaining([expect.objectContaining({ problem: 'deleted', seq: middle.seq })]));
  });

  it('verify({ to }) after the whole trail still finds an entry deleted in the middle of a chain', async () => {
    const { verify, close } = await trailWithDeletion();
    const windowed = await verify({ to: new Date(Date.now() + 60_000) });
    await close();
    expect(windowed.status).toBe('tampered');
  });

  it('verify({ from, to }) around the whole trail still finds an entry deleted in the middle of a chain', async () => {
    const { verify, close } = await trailWithDeletion();
    const windowed = await verify({ from: new Date(0), to: new Date(Date.now() + 60_000) });
    await close();
    expect(windowed.status).toBe('tampered');
  });
});

const link = (seq: number, hash = `h${seq}`): ReadLink => ({
  chain: 'c',
  seq,
  prev: seq === 1 ? '0'.repeat(64) : `h${seq - 1}`,
  hash,
  intact: true,
  kind: 'actions',
  id: String(seq),
  archived: false,
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('review: the chain checker of a window', () => {
  it('reports a forged link far below the window start, read long after the chain started there', () => {
    const claims = new Map<string, ChainClaims>([['c', { heads: [], vouched: [], closedAt: undefined, pruned: [] }]]);
    const findings = new Findings(100);
    const checker = new ChainChecker(claims, findings, { whole: false, archivesGiven: false });
    // The window starts at 5000; a forged entry (a valid hash of its own content) claims sequence 3 and a time
    // 20 000 links into the window: no writer reorders that far.
    for (const seq of range(5000, 5000 + 20 * EDGE_LINKS)) checker.add(link(seq));
    checker.add(link(3, 'forged'));
    for (const seq of range(5001 + 20 * EDGE_LINKS, 5000 + 22 * EDGE_LINKS)) checker.add(link(seq));
    checker.finish();
    // Observed: no finding (a link below the chain's first taken one is ignored, however late it comes).
    expect(findings.list.map((f) => f.problem)).toContain('inserted');
  });
});
