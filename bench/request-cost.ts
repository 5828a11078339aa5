/**
 * Per-request cost of actionlog's core, without HTTP: open a scope, record 10 model changes, end it
 * (the hot path), then build its document (sanitize + diff, done later by the writer). Median of runs.
 */
import { performance } from 'node:perf_hooks';
import { createActionLogger } from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { orderChange, orderState } from '../examples/shared/orders.js';
import { reportResults } from './results.js';
import { nullStore } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:core');

const RUNS = 7;
const REQUESTS = 20_000;
const CHANGES = 10;

function changeOf(i: number): ModelChange {
  const id = `o${i}`;
  return orderChange(id, {
    old_object: orderState(id),
    new_object: orderState(id, { status: 'paid', total: 12, customer: { name: 'Ada', city: 'Bergen' }, items: [{ sku: 'a', qty: 2 }] }),
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function once(): Promise<{ hot: number; total: number }> {
  const logger = createActionLogger({ store: nullStore });
  const changes = Array.from({ length: CHANGES }, (_, i) => changeOf(i));
  let hot = 0;
  const t0 = performance.now();
  for (let r = 0; r < REQUESTS; r++) {
    const h0 = performance.now();
    await logger.run({ module: 'bench' }, () => {
      for (const change of changes) logger.recordModelChange({ ...change });
    });
    hot += performance.now() - h0;
    // A server yields to the event loop between requests; so the writer gets its turns, as in production.
    if (r % 50 === 49) await new Promise(setImmediate);
  }
  await logger.flush();
  const total = performance.now() - t0;
  await logger.close();
  return { hot: (hot * 1000) / REQUESTS, total: (total * 1000) / REQUESTS };
}

async function baseline(): Promise<number> {
  // The same loop with no audit: an async function doing nothing, as the floor of the measurement.
  const t0 = performance.now();
  for (let r = 0; r < REQUESTS; r++) {
    await (async () => {})();
    if (r % 50 === 49) await new Promise(setImmediate);
  }
  return ((performance.now() - t0) * 1000) / REQUESTS;
}

await once(); // warm-up
const runs: Array<{ hot: number; total: number }> = [];
const floors: number[] = [];
for (let i = 0; i < RUNS; i++) {
  floors.push(await baseline());
  runs.push(await once());
}
const hot = median(runs.map((r) => r.hot));
const total = median(runs.map((r) => r.total));
const us = (x: number) => x.toFixed(2);
reportResults('bench:core', [
  {
    title: `Request cost, ${CHANGES} model changes per request, no HTTP (median of ${RUNS} runs of ${REQUESTS} requests)`,
    columns: ['', 'µs per request'],
    rows: [
      ['empty async loop (floor of the loop)', us(median(floors))],
      [`hot path: scope + ${CHANGES} model changes + end`, us(hot)],
      [`document build by the writer (sanitize + diff of ${CHANGES} changes)`, us(total - hot)],
      ['all together', us(total)],
    ],
  },
]);
