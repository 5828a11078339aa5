import { describe, expect, it } from 'vitest';
import { IntegrityChain } from '../../../src/build/integrity/chain.js';
import type { ActivityDocument } from '../../../src/shared/document.js';
import { emptyBatch } from '../../../src/shared/batch-units.js';

/** Seals `n` activities, one batch each; returns their sequences. */
function sealActivities(chain: IntegrityChain, n: number): number[] {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const activity: ActivityDocument = {
      uid: `a${i}`,
      user: { lookup_from: 'users', _id: 'u1', label: 'Ann' },
      ip_address: null,
      action: 'login',
      activity_date: new Date(0),
      link_preview: null,
      request_uuid: null,
    };
    seqs.push(...chain.seal({ ...emptyBatch(), activities: [activity] }, []));
  }
  return seqs;
}

const seqsOf = (heads: Array<{ seq: number }>) => heads.map((h) => h.seq);

describe('IntegrityChain', () => {
  it('confirms links by sequence, ignoring any it is not waiting for, and gives them in order', () => {
    const chain = new IntegrityChain();
    expect(sealActivities(chain, 4)).toEqual([1, 2, 3, 4]);
    chain.confirm([2, 1, 9]);
    chain.confirm([1]);
    expect(seqsOf(chain.takeStored())).toEqual([1, 2]);
    expect(chain.waiting).toBe(true);
  });

  it('holds stored links back behind a link still waiting below them, until it settles', () => {
    const chain = new IntegrityChain();
    sealActivities(chain, 4);
    chain.confirm([1, 2, 4]);
    expect(seqsOf(chain.takeStored())).toEqual([1, 2]);
    expect(chain.heldBack).toBe(true);
    chain.lose([3]);
    expect(chain.heldBack).toBe(false);
    expect(seqsOf(chain.takeStored())).toEqual([4]);
    expect(seqsOf(chain.takeLost())).toEqual([3]);
    expect(chain.waiting).toBe(false);
  });

  it('stops holding links back behind one left waiting past a minute (a write that will never settle it)', () => {
    const chain = new IntegrityChain();
    sealActivities(chain, 3);
    chain.confirm([2, 3]);
    expect(seqsOf(chain.takeStored(Date.now() + 59_000))).toEqual([]);
    expect(seqsOf(chain.takeStored(Date.now() + 61_000))).toEqual([2, 3]);
  });

  it('records a link lost once: a lost link confirmed later stays lost, a stored one is never lost', () => {
    const chain = new IntegrityChain();
    sealActivities(chain, 2);
    chain.lose([1]);
    chain.confirm([1, 2]);
    chain.lose([2]);
    expect(seqsOf(chain.takeLost())).toEqual([1]);
    expect(seqsOf(chain.takeStored())).toEqual([2]);
    expect(chain.unCheckpointed).toBe(0);
  });
});
