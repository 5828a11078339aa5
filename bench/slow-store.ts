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

interface Round {
  p50: number;
  p99: number;
  rate: number;
  loopP99: number;
  /** What the writer holds when the load ends: bounded when it keeps up with the store, growing when it does not. */
  backlog: number;
  dropped: number;
}
const rounds = new Map<string, Round[]>(MODES.map((m) => [m, []]));
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
    const r: Round = {
      p50: result.p50Ms,
      p99: result.p99Ms,
      rate: result.requestsPerSec,
      loopP99: loopDelay.p99,
      backlog: counters.queued ?? 0,
      dropped: counters.dropped ?? 0,
    };
    rounds.get(mode)!.push(r);
    console.log(
      `round ${round + 1} ${mode}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${result.maxMs.toFixed(1)} ms, ${r.rate.toFixed(0)} req/s; event loop p99 ${r.loopP99.toFixed(2)} ms, max ${loopDelay.max.toFixed(1)} ms; backlog ${r.backlog}, dropped ${r.dropped}`,
    );
  }
}
/** The median of one figure over a mode's rounds. */
const medianOf = (mode: string, figure: 'p50' | 'p99' | 'rate' | 'loopP99') => median(rounds.get(mode)!.map((r) => r[figure]));
const rows = MODES.map((mode) => {
  const ratio = (figure: 'p50' | 'p99' | 'loopP99') => `×${(medianOf(mode, figure) / medianOf('baseline', figure)).toFixed(2)}`;
  const of = rounds.get(mode)!;
  return [
    mode,
    medianOf(mode, 'rate').toFixed(0),
    `${medianOf(mode, 'p50').toFixed(2)} ms`,
    ratio('p50'),
    `${medianOf(mode, 'p99').toFixed(2)} ms`,
    ratio('p99'),
    `${medianOf(mode, 'loopP99').toFixed(2)} ms`,
    ratio('loopP99'),
    mode === 'baseline' ? '' : String(Math.max(...of.map((r) => r.backlog))),
    mode === 'baseline' ? '' : String(of.reduce((n, r) => n + r.dropped, 0)),
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
