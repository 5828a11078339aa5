import { describe, expect, it } from 'vitest';
import type { MongoCollectionLike } from '../../../src/stores/mongo/mongo-types.js';
import { WriteSequence } from '../../../src/stores/mongo/mongo-sequence.js';

/**
 * The horizon of stored order, on a counter shared by "processes" (WriteSequences on one counter document) and a
 * clock the test moves: what a reader may return, and when.
 */
function world(settleMs: number) {
  let value = 0;
  let clock = 0;
  const counters = {
    findOneAndUpdate: (_filter: unknown, update: { $inc: { value: number } }) => {
      value += update.$inc.value;
      return Promise.resolve({ _id: 'seq', value });
    },
    findOne: () => Promise.resolve(value === 0 ? null : { _id: 'seq', value }),
  } as unknown as MongoCollectionLike;
  const process = () =>
    new WriteSequence(
      () => counters,
      settleMs,
      () => clock,
    );
  return {
    process,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe('WriteSequence', () => {
  it("passes a process's own writes at once, in order, and holds them behind one still in flight", async () => {
    const { process } = world(1000);
    const seq = process();
    const first = await seq.reserve(3);
    const second = await seq.reserve(2);
    expect(await seq.horizon()).toBe(0);
    seq.release(second, true);
    // The later write is done, the earlier one is not: nothing passes yet.
    expect(await seq.horizon()).toBe(0);
    seq.release(first, true);
    expect(await seq.horizon()).toBe(5);
  });

  it("passes another process's numbers only once they are settleMs old", async () => {
    const { process, advance } = world(1000);
    const writer = process();
    const reader = process();
    expect(await reader.horizon()).toBe(0);
    const range = await writer.reserve(4);
    // The reader sees the counter move, but cannot know the write landed.
    expect(await reader.horizon()).toBe(0);
    advance(999);
    expect(await reader.horizon()).toBe(0);
    advance(1);
    expect(await reader.horizon()).toBe(4);
    writer.release(range, true);
    // The reader's own write right after another's unsettled one waits for it.
    const other = await writer.reserve(1);
    const own = await reader.reserve(1);
    reader.release(own, true);
    expect(await reader.horizon()).toBe(4);
    writer.release(other, true);
    advance(1000);
    expect(await reader.horizon()).toBe(6);
  });

  it('holds readers back after a failed write for as long as it could still land, then passes it', async () => {
    const { process, advance } = world(500);
    const seq = process();
    const failed = await seq.reserve(2);
    seq.release(failed, false);
    const next = await seq.reserve(1);
    seq.release(next, true);
    expect(await seq.horizon()).toBe(0);
    advance(499);
    expect(await seq.horizon()).toBe(0);
    advance(1);
    expect(await seq.horizon()).toBe(3);
  });
});
