/**
 * Throughput of a JSON POST endpoint on Express: no audit (baseline), or the variant BENCH_PAIR names, against each
 * variant.
 * Each round runs the reference and one variant at once, pinned to the same core and loaded equally: the
 * noise of a shared machine hits both alike and the core's time is split fairly, so the throughput ratio is
 * the ratio of per-request cost. The figure is the median ratio over the rounds. The kernel shares the core
 * between threads, though, not processes (GC helper threads count): CPU per request is reported beside it.
 */
import { resolve } from 'node:path';
import { median, pairedRun } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:http');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const VARIANTS = (process.env.BENCH_MODES ?? 'floor,pino-http,actionlog').split(',');
// BENCH_PAIR=<variant>: the reference each variant runs beside, instead of no audit (BENCH_PAIR=actionlog
// BENCH_MODES=actionlog-integrity: what tamper evidence costs actionlog).
const REFERENCE = process.env.BENCH_PAIR ?? 'baseline';
// BENCH_AGAINST=<another checkout, built>: this build's actionlog against that one's, side by side (the "baseline");
// with BENCH_MODES, each of those modes of this build against the same mode of that one.
const AGAINST = process.env.BENCH_AGAINST;
const AGAINST_MODES = (process.env.BENCH_MODES ?? 'actionlog').split(',');
if (AGAINST && process.env.BENCH_PAIR) throw new Error('BENCH_PAIR and BENCH_AGAINST each choose the reference: set one');
const body = { customer: 'c-17', items: [{ sku: 'book', qty: 2 }], note: 'leave at the door' };

const server = (mode: string, script = './servers/express-json.ts') => ({
  name: mode,
  script,
  env: { BENCH_MODE: mode },
  path: '/orders/42',
});
const pairOf = (variant: string) =>
  AGAINST ? [server(variant, resolve(AGAINST, 'bench/servers/express-json.ts')), server(variant)] : [server(REFERENCE), server(variant)];

const summary: string[] = [];
for (const variant of AGAINST ? AGAINST_MODES : VARIANTS) {
  const ratios: number[] = [];
  const cpu: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [base, other] = await pairedRun(pairOf(variant), { seconds: SECONDS, body });
    ratios.push(other!.requestsPerSec / base!.requestsPerSec);
    cpu.push(other!.cpuPerRequest / base!.cpuPerRequest);
    console.log(
      `${variant} round ${round + 1}: ${REFERENCE} ${base!.requestsPerSec.toFixed(0)} req/s, ${variant} ${other!.requestsPerSec.toFixed(0)} req/s, ratio ${ratios.at(-1)!.toFixed(3)}, CPU per request ×${cpu.at(-1)!.toFixed(2)}`,
    );
  }
  summary.push(
    `  ${variant.padEnd(10)} / ${REFERENCE}: ${ratios.map((r) => r.toFixed(3)).join(', ')}; median ${median(ratios).toFixed(3)}; CPU per request ×${median(cpu).toFixed(2)}`,
  );
}
const against = AGAINST ? ` (baseline: the same mode as built in ${AGAINST})` : '';
console.log(
  `\nExpress JSON POST, ${REFERENCE} and variant side by side on one core, ${SECONDS}s rounds (Node ${process.version})${against}:`,
);
console.log(summary.join('\n'));
