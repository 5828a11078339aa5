import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { mapYielding } from '../../src/write/yielding-map.js';

/** Counts the event loop's turns (its check phase) until stopped. */
function turnCounter() {
  let turns = 0;
  let counting = true;
  const count = () => {
    turns++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  return () => {
    counting = false;
    return turns;
  };
}

/** Works for `ms` without letting anything else run. */
function busy(ms: number): void {
  for (const end = performance.now() + ms; performance.now() < end;);
}

/** Maps 1–6 to their doubles, 0.6 ms of work each, in slices of 1 ms; with the turns the event loop took meanwhile. */
async function mapBusily(mayYield: () => boolean): Promise<{ out: number[]; turns: number }> {
  const stop = turnCounter();
  const out = await mapYielding(
    [1, 2, 3, 4, 5, 6],
    (x) => {
      busy(0.6);
      return x * 2;
    },
    mayYield,
    1,
  );
  return { out, turns: stop() };
}

describe('mapYielding', () => {
  it('maps in order, letting the event loop turn each time the budget has passed', async () => {
    const { out, turns } = await mapBusily(() => true);
    expect(out).toEqual([2, 4, 6, 8, 10, 12]);
    // 3.6 ms of work in slices of at least 1 ms: two or three turns between them.
    expect(turns).toBeGreaterThanOrEqual(2);
  });

  it('never lets it turn while mayYield says no (a writer that is behind)', async () => {
    const { out, turns } = await mapBusily(() => false);
    expect(out).toEqual([2, 4, 6, 8, 10, 12]);
    expect(turns).toBe(0);
  });
});
