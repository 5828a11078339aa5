import { describe, expect, it, vi } from 'vitest';
import { DATED_AHEAD_MS } from '../../src/read/verify/chains.js';
import { createActionLogger, MemoryStore } from 'actionlog';
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
  await store.remove(middle.kind, [middle.stored.position.id]);
  const reader = createActionLogger({ store });
  const verify = (window: { from?: Date; to?: Date }) => reader.verify({ keys: [keys.publicKey], anchors, ...window });
  return { verify, middle, close: () => reader.close() };
}

describe('verify of a window holding the whole trail judges it as the whole', () => {
  it('verify({ from }) before the whole trail still finds an entry deleted in the middle of a chain', async () => {
    const { verify, middle, close } = await trailWithDeletion();
    const whole = await verify({});
    expect(whole.status).toBe('tampered');
    // No entry lies outside the window: it has no edge.
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

describe('verify of a window whose `to` leaves entries out', () => {
  it('finds an entry deleted before the newest checkpoint its writer signed by `to`, and calls the untouched trail intact', async () => {
    const store = new MemoryStore();
    const keys = ed25519();
    const anchors: Parameters<typeof sealingLogger>[2] = [];
    // The first writer's checkpoints lie more than DATED_AHEAD_MS before `to` (entries may be dated that far ahead).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 2 * DATED_AHEAD_MS });
    const before = sealingLogger(store, keys.privateKey, anchors);
    try {
      await writeTrail(before);
      await before.close();
    } finally {
      vi.useRealTimers();
    }
    const { chain } = (await linked(store))[0]!;
    const to = new Date(Date.now() - 1000);
    // Another writer's entries past `to`: the window has an end edge.
    const after = sealingLogger(store, keys.privateKey, anchors);
    await writeTrail(after);
    await after.close();
    const reader = createActionLogger({ store });
    const verify = () => reader.verify({ keys: [keys.publicKey], anchors, to });
    expect((await verify()).status).toBe('intact');
    const links = (await linked(store)).filter((link) => link.chain === chain);
    const middle = links[Math.floor(links.length / 2)]!;
    await store.remove(middle.kind, [middle.stored.position.id]);
    const report = await verify();
    await reader.close();
    expect(report.status).toBe('tampered');
    expect(report.findings).toEqual([expect.objectContaining({ problem: 'deleted', chain, seq: middle.seq })]);
  });
});
