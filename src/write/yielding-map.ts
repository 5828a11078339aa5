import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long the writer works before it lets waiting requests run, while it keeps up. */
export const TURN_BUDGET_MS = 1;

/**
 * `items.map(map)`, in order, yielding to the event loop each time `budgetMs` of work has passed, while `mayYield()`
 * says so: a batch of a hundred documents is built in slices, with the requests that arrived in the meantime served
 * between them.
 */
export async function mapYielding<T, R>(
  items: readonly T[],
  map: (item: T) => R,
  mayYield: () => boolean = () => true,
  budgetMs = TURN_BUDGET_MS,
): Promise<R[]> {
  const out: R[] = [];
  let since = performance.now();
  for (const item of items) {
    if (performance.now() - since >= budgetMs && mayYield()) {
      await nextTurn();
      since = performance.now();
    }
    out.push(map(item));
  }
  return out;
}
