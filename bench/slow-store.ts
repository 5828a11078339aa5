/**
 * Request latency when the store is slow (200 ms per write): the Express JSON POST with no audit, with actionlog on
 * that store (one write at a time, and `concurrentWrites: 4`), and with actionlog and a spool, each alone at the same fixed rate (latency is only comparable below
 * saturation). Rounds alternate the modes, so that the machine's noise falls on all of them; the figures are the
 * medians of the rounds' p50 and p99, and their ratios to no audit; beside them, the p99 of the server's own
 * event-loop delay, which the load generator's noise does not reach.
 */
import { benchEnv, packageVersion, reportResults } from './results.js';
import { pacedLoad } from './paced-load.js';
import { median, startServer } from './support.js';
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
const loopP99 = new Map<string, number[]>(MODES.map((m) => [m, []]));
// What the writer holds when the load ends: bounded when it keeps up with the store, growing when it does not.
const backlog = new Map<string, number[]>(MODES.map((m) => [m, []]));
const dropped = new Map<string, number[]>(MODES.map((m) => [m, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    const server = await startServer('./servers/express-json.ts', { BENCH_MODE: mode });
    const url = `http://127.0.0.1:${server.port}/orders/42`;
    await pacedLoad(url, { durationSec: 1, connections: 16, body, rate: RATE });
    await server.usage(); // the loop's delays from here on
    const result = await pacedLoad(url, { durationSec: SECONDS, connections: 16, body, rate: RATE });
    const { loopDelay, counters } = await server.usage();
    await server.stop();
    if (result.errors > 0) throw new Error(`${mode}: ${result.errors} requests failed`);
    p50.get(mode)!.push(result.p50Ms);
    p99.get(mode)!.push(result.p99Ms);
    rates.get(mode)!.push(result.requestsPerSec);
    loopP99.get(mode)!.push(loopDelay.p99);
    backlog.get(mode)!.push(counters.queued ?? 0);
    dropped.get(mode)!.push(counters.dropped ?? 0);
    console.log(
      `round ${round + 1} ${mode}: p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, max ${result.maxMs.toFixed(1)} ms, ${result.requestsPerSec.toFixed(0)} req/s; event loop p99 ${loopDelay.p99.toFixed(2)} ms, max ${loopDelay.max.toFixed(1)} ms; backlog ${counters.queued ?? 0}, dropped ${counters.dropped ?? 0}`,
    );
  }
}
const base = { p50: median(p50.get('baseline')!), p99: median(p99.get('baseline')!), loop: median(loopP99.get('baseline')!) };
const rows = MODES.map((mode) => {
  const m = { p50: median(p50.get(mode)!), p99: median(p99.get(mode)!), loop: median(loopP99.get(mode)!) };
  return [
    mode,
    median(rates.get(mode)!).toFixed(0),
    `${m.p50.toFixed(2)} ms`,
    `×${(m.p50 / base.p50).toFixed(2)}`,
    `${m.p99.toFixed(2)} ms`,
    `×${(m.p99 / base.p99).toFixed(2)}`,
    `${m.loop.toFixed(2)} ms`,
    `×${(m.loop / base.loop).toFixed(2)}`,
    mode === 'baseline' ? '' : String(Math.max(...backlog.get(mode)!)),
    mode === 'baseline' ? '' : String(dropped.get(mode)!.reduce((a, b) => a + b, 0)),
  ];
});
reportResults(
  'bench:slow-store',
  [
    {
      title: `Express JSON POST at ${RATE} req/s over 16 connections, store taking 200 ms per write (median of ${ROUNDS} rounds of ${SECONDS} s)`,
      columns: [
        'mode',
        'req/s',
        'p50',
        'p50 / baseline',
        'p99',
        'p99 / baseline',
        'event loop p99',
        'loop p99 / baseline',
        'writer backlog at the end (most)',
        'dropped (all rounds)',
      ],
      rows,
      notes: [
        'Latency from when each request was due (a steady rate, `bench/paced-load.ts`) to the end of its response.',
        "Event loop p99: the server's own `monitorEventLoopDelay` (a 1 ms timer, so an idle loop reads about 1 ms): how long a request can wait behind the writer's work.",
      ],
    },
  ],
  { express: packageVersion('express') },
);
