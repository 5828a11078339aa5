/**
 * Where the Express JSON POST path allocates, by function: the server of `bench:http` in each of PROFILE_MODES
 * (default `baseline,null-store`), each loaded alone for PROFILE_SECONDS (default 8) after PROFILE_WARMUP seconds
 * (default 2), under V8's sampling heap profiler with the objects the GC already collected counted
 * (`servers/allocation-sampler.mjs`; one sample per ALLOCATION_INTERVAL bytes, default 1024). Prints the bytes
 * allocated per request of each mode, then what each mode allocates beside the first one: by where the allocating
 * code is, by function, and by the innermost actionlog function on the stack (what Node and V8 allocate on
 * actionlog's behalf counts for it there). PROFILE_SERVER and PROFILE_PATH profile another bench server.
 * Needs the package built (`npm run build`). Not part of `npm run bench`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { runUnderBenchNode } from './node-versions.js';
import { load, startServer } from './support.js';

runUnderBenchNode('bench:profile-alloc');

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);
const WARMUP = Number(process.env.PROFILE_WARMUP ?? 2);
const MODES = (process.env.PROFILE_MODES ?? 'baseline,null-store').split(',');
const TOP = Number(process.env.PROFILE_TOP ?? 30);
const SERVER = process.env.PROFILE_SERVER ?? './servers/express-json.ts';
const PATH = process.env.PROFILE_PATH ?? '/orders/42';
const body = { customer: 'c-17', items: [{ sku: 'book', qty: 2 }], note: 'leave at the door' };
const sampler = fileURLToPath(new URL('./servers/allocation-sampler.mjs', import.meta.url));

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const label = (frame: HeapNode['callFrame']) => {
  const file = frame.url.startsWith('node:') ? frame.url : frame.url.split('/').slice(-2).join('/');
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
};
const isActionlog = (url: string) => url.includes('/dist/') && !url.includes('/node_modules/');
function placeOf(frame: HeapNode['callFrame']): string {
  if (frame.url.startsWith('node:')) return 'Node (JavaScript)';
  const pkg = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
  if (pkg) return pkg;
  if (isActionlog(frame.url)) return 'actionlog';
  return frame.url ? 'the bench server' : `V8/native: ${frame.functionName}`;
}

interface Allocations {
  requests: number;
  /** Bytes per request by allocating function, by place, and by the innermost actionlog function on the stack. */
  self: Map<string, number>;
  place: Map<string, number>;
  actionlog: Map<string, number>;
}

const OUTSIDE = '(outside actionlog)';
const add = (m: Map<string, number>, key: string, n: number) => m.set(key, (m.get(key) ?? 0) + n);

async function allocationsOf(mode: string): Promise<Allocations> {
  const dir = mkdtempSync(join(tmpdir(), 'actionlog-alloc-'));
  const file = join(dir, 'profile.json');
  try {
    const server = await startServer(SERVER, { BENCH_MODE: mode, ALLOCATION_PROFILE: file }, ['--import', sampler]);
    const url = `http://127.0.0.1:${server.port}${PATH}`;
    await load(url, { durationSec: WARMUP, body });
    const before = (await server.usage()).requests;
    process.kill(server.pid, 'SIGUSR2');
    await load(url, { durationSec: SECONDS, body });
    const requests = (await server.usage()).requests - before;
    process.kill(server.pid, 'SIGUSR2');
    while (!existsSync(file)) await sleep(50);
    await sleep(200); // the file is written in one call; let it finish
    await server.stop();
    const out: Allocations = { requests, self: new Map(), place: new Map(), actionlog: new Map() };
    const walk = (node: HeapNode, owner: string) => {
      // Code of a package or of the server called from an actionlog function (the middleware's `next`) is not its.
      const place = placeOf(node.callFrame);
      const own = place === 'actionlog' ? label(node.callFrame) : place.startsWith('V8') || place.startsWith('Node') ? owner : OUTSIDE;
      const bytes = node.selfSize / requests;
      if (bytes > 0) {
        add(out.self, label(node.callFrame), bytes);
        add(out.place, placeOf(node.callFrame), bytes);
        add(out.actionlog, own, bytes);
      }
      for (const child of node.children) walk(child, own);
    };
    walk((JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode }).head, OUTSIDE);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const bytes = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(0)} B`;
function growth(first: Map<string, number>, next: Map<string, number>, top: number): string[] {
  const names = new Set([...first.keys(), ...next.keys()]);
  return [...names]
    .map((n) => [n, (next.get(n) ?? 0) - (first.get(n) ?? 0)] as const)
    .filter(([, d]) => Math.abs(d) >= 8)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(
      ([n, d]) =>
        `  ${bytes(d).padStart(9)}  ${(first.get(n) ?? 0).toFixed(0).padStart(6)} → ${(next.get(n) ?? 0).toFixed(0).padEnd(6)} ${n}`,
    );
}

console.log(`Allocations of ${SERVER} (POST ${PATH}), ${SECONDS}s of load per mode (Node ${process.version}); bytes per request:`);
const runs: Allocations[] = [];
for (const mode of MODES) {
  const run = await allocationsOf(mode);
  runs.push(run);
  console.log(`${mode}: ${run.requests} requests, ${total(run.self).toFixed(0)} B allocated per request; the most by function:`);
  const most = [...run.self].sort((a, b) => b[1] - a[1]).slice(0, Math.ceil(TOP / 2));
  console.log(most.map(([n, b]) => `  ${b.toFixed(0).padStart(6)} B  ${n}`).join('\n'));
}
const [first, ...rest] = runs;
for (const [i, run] of rest.entries()) {
  console.log(`\n${MODES[i + 1]} against ${MODES[0]}: ${bytes(total(run.self) - total(first!.self))} per request; by where the code is:`);
  console.log(growth(first!.place, run.place, TOP).join('\n'));
  console.log(`by allocating function (the ${TOP} that grew most):`);
  console.log(growth(first!.self, run.self, TOP).join('\n'));
  console.log('by the innermost actionlog function on the stack:');
  console.log(growth(first!.actionlog, run.actionlog, TOP).join('\n'));
}
