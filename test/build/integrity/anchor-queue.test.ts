import { describe, expect, it } from 'vitest';
import { AnchorQueue } from '../../../src/build/integrity/anchor-queue.js';
import type { CheckpointDocument } from '../../../src/shared/document.js';

const checkpoint = (number: number) => ({ number }) as CheckpointDocument;

describe('AnchorQueue, a deadline that passed', () => {
  it('marks overdue the copy under way when the wait began, not one handed over during the wait', async () => {
    let returnFirst!: () => void;
    const handed: number[] = [];
    const queue = new AnchorQueue(
      (c) => {
        handed.push(c.number);
        // The first copy is slow and returns; the second hangs.
        return c.number === 1 ? new Promise<void>((resolve) => (returnFirst = resolve)) : new Promise(() => {});
      },
      () => {},
    );
    queue.add(checkpoint(1));
    queue.add(checkpoint(2));
    void queue.copy();
    const waitBegan = queue.underWay;
    returnFirst();
    await expect.poll(() => handed).toEqual([1, 2]);
    // The deadline of a wait that began with copy 1 under way: copy 2, just handed over, was not waited for.
    queue.givenUp(waitBegan);
    expect(queue.overdue(60_000)).toBeUndefined();
    // A wait that began with copy 2 under way, at its deadline: copy 2 is overdue, whatever the clock says.
    queue.givenUp(queue.underWay);
    expect(queue.overdue(60_000)).toBe(2);
  });
});
