/**
 * Request latency when the store is slow (200 ms per write): the Express JSON POST with no audit, with actionlog on
 * that store (one write at a time, and `concurrentWrites: 4`), and with actionlog and a spool, each alone at the same fixed rate (latency is only comparable below
 * saturation). Rounds alternate the modes, so that the machine's noise falls on all of them; the figures are the
 * medians of the rounds' p50 and p99, and their ratios to no audit.
 */
import { benchEnv, packageVersion, reportResults } from './results.js';
import { median, load, startServer } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:slow-store');

const ROUNDS = Number(benchEnv('BENCH_ROUNDS') ?? 5);
const SECONDS = Number(benchEnv('BENCH_SECONDS') ?? 6);
const RATE = Number(benchEnv('BENCH_RATE') ?? 1000);
// `BENCH_MODES` (any modes of the server, after the baseline) instead of the default ones.
const MODES = [
  'baseline',
  ...(benchEnv('BENCH_MODES')?.split(',') ?? ['actionlog-slow-store', 'actionlog-4-writes-slow-store', 'actionlog-spool-slow-store']),
];
const body = { customer: 'c-17', items: [{ sku: 'book', qty: 2 }], note: 'leave at the door' };

const p50 = new Map<string, number[]>(MODES.map((m) => [m, []]));
const p99 = new Map<string, number[]>(MODES.map((m) => [m, []]));
const rates = new Map<string, number[]>(MODES.map((m) => [m, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    const server = await startServer('./servers/express-json.ts', { BENCH_MODE: mode });
    const url = `http://127.0.0.1:${server.port}/orders/42`;
    await load(url, { durationSec: 1, connections: 16, body, rate: RATE });
    const result = await load(url, { durationSec: SECONDS, connections: 16, body, rate: RATE });
    await server.stop();
    if (result.errors > 0) throw new Error(`${mode}: ${result.errors} requests failed`);
    p50.get(mode)!.push(result.p50Ms);
    p99.get(mode)!.push(result.p99Ms);
    rates.get(mode)!.push(result.requestsPerSec);
    console.log(`round ${round + 1} ${mode}: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.requestsPerSec.toFixed(0)} req/s`);
  }
}
const base = { p50: median(p50.get('baseline')!), p99: median(p99.get('baseline')!) };
const rows = MODES.map((mode) => {
  const m = { p50: median(p50.get(mode)!), p99: median(p99.get(mode)!) };
  return [
    mode,
    median(rates.get(mode)!).toFixed(0),
    `${m.p50.toFixed(2)} ms`,
    `×${(m.p50 / base.p50).toFixed(2)}`,
    `${m.p99.toFixed(2)} ms`,
    `×${(m.p99 / base.p99).toFixed(2)}`,
  ];
});
reportResults(
  'bench:slow-store',
  [
    {
      title: `Express JSON POST at ${RATE} req/s over 16 connections, store taking 200 ms per write (median of ${ROUNDS} rounds of ${SECONDS} s)`,
      columns: ['mode', 'req/s', 'p50', 'p50 / baseline', 'p99', 'p99 / baseline'],
      rows,
      notes: ['autocannon reports latency in whole milliseconds.'],
    },
  ],
  { express: packageVersion('express') },
);
