/**
 * What the young-generation GC does per request on the Express JSON POST server of `bench:http`: each mode loaded
 * alone for PROFILE_SECONDS (default 8) under `--trace-gc-nvp`, then, over the scavenges during the load, the bytes
 * allocated and promoted to the old generation per request and the average scavenge pause. What a request leaves
 * alive across two scavenges is promoted and waits for a full GC: a WeakMap holding every request showed here as
 * kilobytes promoted per request. PROFILE_MODES (default baseline,floor,null-store,actionlog) changes the modes;
 * PROFILE_SERVER and PROFILE_PATH profile another bench server (`./servers/koa-typeorm.ts`, `/orders`).
 * Beside them, the CPU time per request of the main thread and of the others (V8's helpers: parallel and concurrent
 * GC, and the JIT compiling in the background), from /proc, after PROFILE_WARMUP seconds of load (default 2).
 * Needs the package built (`npm run build`). Not part of `npm run bench`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { load, startServer } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:profile-gc');

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);
const MODES = (process.env.PROFILE_MODES ?? 'baseline,floor,null-store,actionlog').split(',');
// Another bench server (its BENCH_MODE values in PROFILE_MODES) and the path it serves by POST.
const SERVER = process.env.PROFILE_SERVER ?? './servers/express-json.ts';
const PATH = process.env.PROFILE_PATH ?? '/orders/42';
const WARMUP = Number(process.env.PROFILE_WARMUP ?? 2);
const body = { customer: 'c-17', items: [{ sku: 'book', qty: 2 }], note: 'leave at the door' };

/** CPU time (user + system, µs) of a process's main thread and of its other threads so far, from /proc (Linux). */
function threadTimes(pid: number): { main: number; others: number } {
  const times = { main: 0, others: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const micros = ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
    if (Number(tid) === pid) times.main += micros;
    else times.others += micros;
  }
  return times;
}
/** Linux's USER_HZ, what /proc counts CPU time in, on every architecture Node runs on. */
const CLOCK_TICKS = 100;

/** The scavenges in `trace` (lines of `--trace-gc-nvp`): pause (ms), allocated and promoted bytes of each. */
function scavenges(trace: string): Array<{ pause: number; allocated: number; promoted: number }> {
  return trace
    .split('\n')
    .filter((line) => / gc=s /.test(line))
    .map((line) => {
      const field = (name: string) => Number(new RegExp(` ${name}=([0-9.]+)`).exec(line)?.[1] ?? Number.NaN);
      return { pause: field('pause'), allocated: field('allocated'), promoted: field('promoted') };
    });
}

console.log(`Young-generation GC of ${SERVER}, POST ${PATH}, ${SECONDS}s of load per mode (Node ${process.version}):\n`);
console.log(
  '| mode | requests | scavenges | allocated per request | promoted per request | scavenge pause | CPU per request: main thread | other threads |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const mode of MODES) {
  const server = await startServer(SERVER, { BENCH_MODE: mode }, ['--trace-gc-nvp']);
  const url = `http://127.0.0.1:${server.port}${PATH}`;
  await load(url, { durationSec: WARMUP, body }); // warm-up: startup's own scavenges are left out
  const from = server.output().length;
  const before = await server.usage();
  const threadsBefore = threadTimes(server.pid);
  await load(url, { durationSec: SECONDS, body });
  const threads = threadTimes(server.pid);
  const requests = (await server.usage()).requests - before.requests;
  const seen = scavenges(server.output().slice(from));
  await server.stop();
  const sum = (f: (s: (typeof seen)[number]) => number) => seen.reduce((n, s) => n + f(s), 0);
  console.log(
    `| ${mode} | ${requests} | ${seen.length} | ${(sum((s) => s.allocated) / requests / 1024).toFixed(1)} KiB | ${(sum((s) => s.promoted) / requests).toFixed(0)} B | ${(sum((s) => s.pause) / Math.max(1, seen.length)).toFixed(1)} ms | ${((threads.main - threadsBefore.main) / requests).toFixed(1)} µs | ${((threads.others - threadsBefore.others) / requests).toFixed(1)} µs |`,
  );
}
