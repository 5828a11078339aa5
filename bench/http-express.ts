/**
 * Throughput of a JSON POST endpoint on Express: no audit (baseline), or the variant BENCH_PAIR names, against each
 * variant.
 * Each round runs the reference and one variant at once, pinned to the same core and loaded equally: the
 * noise of a shared machine hits both alike and the core's time is split fairly, so the throughput ratio is
 * the ratio of per-request cost. The figure is the median ratio over the rounds. The kernel shares the core
 * between threads, though, not processes (GC helper threads count): CPU per request is reported beside it.
 */
import { resolve } from 'node:path';
import { benchEnv, packageVersion, reportResults } from './results.js';
import { median, pairedRun } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:http');

const ROUNDS = Number(benchEnv('BENCH_ROUNDS') ?? 5);
const SECONDS = Number(benchEnv('BENCH_SECONDS') ?? 6);
const VARIANTS = (benchEnv('BENCH_MODES') ?? 'floor,pino-http,actionlog').split(',');
// BENCH_PAIR=<variant>: the reference each variant runs beside, instead of no audit (BENCH_PAIR=actionlog
// BENCH_MODES=actionlog-integrity: what tamper evidence costs actionlog).
const REFERENCE = benchEnv('BENCH_PAIR') ?? 'baseline';
// BENCH_AGAINST=<another checkout, built>: this build's actionlog against that one's, side by side (the "baseline");
// with BENCH_MODES, each of those modes of this build against the same mode of that one.
const AGAINST = benchEnv('BENCH_AGAINST');
const AGAINST_MODES = (benchEnv('BENCH_MODES') ?? 'actionlog').split(',');
if (AGAINST && benchEnv('BENCH_PAIR')) throw new Error('BENCH_PAIR and BENCH_AGAINST each choose the reference: set one');
const body = { customer: 'c-17', items: [{ sku: 'book', qty: 2 }], note: 'leave at the door' };

const server = (mode: string, script = './servers/express-json.ts') => ({
  name: mode,
  script,
  env: { BENCH_MODE: mode },
  path: '/orders/42',
});
const pairOf = (variant: string) =>
  AGAINST ? [server(variant, resolve(AGAINST, 'bench/servers/express-json.ts')), server(variant)] : [server(REFERENCE), server(variant)];

const rows: string[][] = [];
for (const variant of AGAINST ? AGAINST_MODES : VARIANTS) {
  const ratios: number[] = [];
  const cpu: number[] = [];
  const rates: Array<[number, number]> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [base, other] = await pairedRun(pairOf(variant), { seconds: SECONDS, body });
    ratios.push(other!.requestsPerSec / base!.requestsPerSec);
    cpu.push(other!.cpuPerRequest / base!.cpuPerRequest);
    rates.push([base!.requestsPerSec, other!.requestsPerSec]);
    console.log(
      `${variant} round ${round + 1}: ${REFERENCE} ${base!.requestsPerSec.toFixed(0)} req/s, ${variant} ${other!.requestsPerSec.toFixed(0)} req/s, ratio ${ratios.at(-1)!.toFixed(3)}, CPU per request ×${cpu.at(-1)!.toFixed(2)}`,
    );
  }
  rows.push([
    variant,
    median(rates.map(([b]) => b)).toFixed(0),
    median(rates.map(([, v]) => v)).toFixed(0),
    ratios.map((r) => r.toFixed(3)).join(', '),
    `**${median(ratios).toFixed(3)}**`,
    `×${median(cpu).toFixed(2)}`,
  ]);
}
const against = AGAINST ? ` (${REFERENCE}: the same mode as built in ${AGAINST})` : '';
reportResults(
  'bench:http',
  [
    {
      title: `Express JSON POST throughput, ${REFERENCE} and each variant side by side on one core (median of ${ROUNDS} rounds of ${SECONDS} s)${against}`,
      columns: ['variant', `${REFERENCE} req/s`, 'variant req/s', `throughput / ${REFERENCE}, rounds`, 'median', 'CPU per request'],
      rows,
    },
  ],
  { express: packageVersion('express'), ...(VARIANTS.includes('pino-http') ? { 'pino-http': packageVersion('pino-http') } : {}) },
);
