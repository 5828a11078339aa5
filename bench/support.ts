import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { startPostgres } from '../examples/shared/databases/postgres.js';
import type { Store } from 'actionlog';
import { benchEnv } from './results.js';

/**
 * On Linux with two or more cores, the load generator (this process) runs on core 0 and servers on core 1,
 * so neither steals the other's CPU and runs are comparable.
 */
const pin = process.platform === 'linux' && cpus().length >= 2 && hasTaskset();
function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Usage {
  cpuMicros: number;
  requests: number;
  /** Counters the server adds (database commands by name...). */
  counters: Record<string, number>;
  /** The server's resident set size, bytes. */
  rss: number;
  /** Its used heap, bytes: after a full collection when it runs with --expose-gc. */
  heapUsed: number;
  /**
   * How late its event loop ran since the previous reading (ms, sampled every millisecond): what a request waits
   * behind other work in the server, free of the load generator's own noise.
   */
  loopDelay: { p50: number; p99: number; max: number };
}

export interface Server {
  port: number;
  /** Its process id (`taskset` execs the server in place). */
  pid: number;
  /** Server CPU time (user + system, µs), requests served and its own counters, since it started. */
  usage(): Promise<Usage>;
  /** What it printed so far (its Node's diagnostics too, as `--trace-gc-nvp` writes them). */
  output(): string;
  stop(): Promise<void>;
}

const benchConfig = fileURLToPath(new URL('tsconfig.json', import.meta.url));

/** A store that accepts everything and keeps nothing, so only actionlog's own work is measured. */
export const nullStore: Store = {
  write: async () => {},
  append: async () => {},
  query: async () => [],
  count: async () => 0,
  facets: async () => [],
  // Checkpoints of tamper evidence, kept nowhere either.
  writeCheckpoint: async () => {},
  checkpoints: async () => [],
  close: async () => {},
};

/** A store that keeps nothing and takes `ms` per write: a database under strain. */
export function slowStore(ms: number): Store {
  const slow = () => new Promise<void>((resolve) => setTimeout(resolve, ms));
  return { ...nullStore, write: slow, append: slow };
}

/** Starts a bench server in its own process (so load and server do not share a thread); `nodeArgs` go to its Node. */
export function startServer(script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Server> {
  const file = fileURLToPath(new URL(script, import.meta.url));
  // A server under a folder with its own tsconfig (a peer library's setup) is compiled with that one; the others
  // with bench/tsconfig.json, which has no path mapping, so 'actionlog' is the built package, as users get it.
  const ownConfig = fileURLToPath(new URL('tsconfig.json', new URL(script, import.meta.url)));
  env = { TSX_TSCONFIG_PATH: existsSync(ownConfig) ? ownConfig : benchConfig, ...env };
  const node = [process.execPath, ...nodeArgs, '--import', 'tsx', file];
  const [cmd, ...args] = pin ? ['taskset', '-c', '1', ...node] : node;
  const child: ChildProcess = spawn(cmd!, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) {
        resolve({
          port: Number(match[1]),
          pid: child.pid!,
          output: () => out,
          usage: () =>
            new Promise((done) => {
              child.once('message', (m) => {
                done(m as Usage);
              });
              child.send('usage');
            }),
          stop: () =>
            new Promise((done) => {
              child.once('exit', () => {
                done();
              });
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => {
      reject(new Error(`bench server exited with ${code}`));
    });
  });
}

export interface Load {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Requests answered. */
  requests: number;
}

/** Drives a server with autocannon (for `durationSec`, or until it answered `requests`) and returns the average throughput. */
export async function load(
  url: string,
  options: {
    durationSec?: number;
    requests?: number;
    connections?: number;
    method?: 'POST' | 'GET';
    body?: unknown;
    /** Requests a second, all connections together; default: as fast as the server answers. */ rate?: number;
  },
): Promise<Load> {
  const result = await autocannon({
    url,
    connections: options.connections ?? 32,
    ...(options.requests === undefined ? { duration: options.durationSec } : { amount: options.requests }),
    method: options.method ?? 'POST',
    headers: { 'content-type': 'application/json' },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    // The slowest servers here (the Mongoose peers) take seconds per request under 32 connections: autocannon's
    // default of 10 s would count their tail as failures.
    timeout: 60,
    ...(options.rate ? { overallRate: options.rate } : {}),
  });
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    requests: result.requests.total,
  };
}

/** Call in a bench server: answers the parent's usage requests and counts requests. */
export function reportUsage(
  server: { on(event: 'request', listener: () => void): unknown },
  counters: () => Record<string, number> = () => ({}),
): void {
  let requests = 0;
  server.on('request', () => requests++);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    const ms = (ns: number) => ns / 1e6;
    const loopDelay = { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
    delay.reset();
    globalThis.gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    process.send?.({ cpuMicros: user + system, requests, counters: counters(), rss, heapUsed, loopDelay } satisfies Usage);
  });
}

export interface MongoProcess {
  uri: string;
  /** Which MongoDB the test harness picked (MONGODB_URI, mongodb-memory-server or the wire-protocol server). */
  description: string;
  stop: () => void;
}

/** The test harness's MongoDB in a process of its own (on core 0 when pinning, beside the load generator). */
export function startMongoProcess(): Promise<MongoProcess> {
  // The in-repo wire-protocol server keeps every document in its heap: a soak's million requests need more than
  // Node's default limit.
  const node = [
    process.execPath,
    '--max-old-space-size=16384',
    '--import',
    'tsx',
    fileURLToPath(new URL('./servers/mongodb.ts', import.meta.url)),
  ];
  const [cmd, ...args] = pin ? ['taskset', '-c', '0', ...node] : node;
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stopping = false;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const uri = /URI (\S+)/.exec(out)?.[1];
      // The address is left out of the description: it changes with every run and says nothing of what ran.
      const description = (/MONGO (.*)/.exec(out)?.[1] ?? '').replace(/ at \S+/, '');
      const stop = () => {
        stopping = true;
        child.kill('SIGTERM');
      };
      if (uri) resolve({ uri, description, stop });
    });
    child.once('exit', (code, signal) => {
      const error = new Error(`MongoDB process exited with ${code ?? signal}`);
      reject(error);
      // Died under a running benchmark: every figure after this would be of failing requests.
      if (!stopping) {
        console.error(error.message);
        process.exit(1);
      }
    });
  });
}

/** Share of its core the load generator used in the last paired run. */
export let loadShare = 0;

export interface PairedResult {
  name: string;
  requestsPerSec: number;
  cpuPerRequest: number;
  /** Share of one core the server used during the run. */
  cpuShare: number;
  /** The server's counters per request during the run. */
  counters: Record<string, number>;
}

/**
 * Starts every server on the same core, loads them all at once for `seconds`, and reports each one's
 * throughput and CPU per request. Fails if the core was not saturated (the ratio would then be meaningless).
 */
export async function pairedRun(
  servers: Array<{ name: string; script: string; env: Record<string, string>; path: string }>,
  options: { seconds: number; connections?: number; body?: unknown },
): Promise<PairedResult[]> {
  const starts = await Promise.allSettled(servers.map((s) => startServer(s.script, s.env)));
  const started = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = starts.find((s) => s.status === 'rejected');
  if (failed) {
    // The others would keep the bench's process alive.
    await Promise.all(started.map((s) => s.stop()));
    throw failed.reason;
  }
  try {
    const urls = servers.map((s, i) => `http://127.0.0.1:${started[i]!.port}${s.path}`);
    // Warm-up: the JIT compiles in background threads the core is shared with, more so with more code to compile.
    const warmup = Number(benchEnv('BENCH_WARMUP') ?? 1);
    await Promise.all(urls.map((url) => load(url, { durationSec: warmup, body: options.body, connections: options.connections })));
    const before = await Promise.all(started.map((s) => s.usage()));
    const selfBefore = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const loads = await Promise.all(
      urls.map((url) => load(url, { durationSec: options.seconds, body: options.body, connections: options.connections })),
    );
    const wallMicros = Number(process.hrtime.bigint() - t0) / 1000;
    const self = process.cpuUsage(selfBefore);
    loadShare = (self.user + self.system) / wallMicros;
    const after = await Promise.all(started.map((s) => s.usage()));
    const results = servers.map((s, i) => {
      if (loads[i]!.errors > 0) throw new Error(`${s.name}: ${loads[i]!.errors} failed requests`);
      const cpu = after[i]!.cpuMicros - before[i]!.cpuMicros;
      const requests = after[i]!.requests - before[i]!.requests;
      return {
        name: s.name,
        requestsPerSec: requests / (wallMicros / 1e6),
        cpuPerRequest: cpu / requests,
        cpuShare: cpu / wallMicros,
        counters: perRequest(before[i]!.counters, after[i]!.counters, requests),
      };
    });
    const used = results.reduce((sum, r) => sum + r.cpuShare, 0);
    if (pin && used < 0.9) {
      console.log(
        `  (note: the servers used ${(used * 100).toFixed(0)}% of their core; something else, the database or the load generator, set the pace)`,
      );
    }
    return results;
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Counter increases between two usage readings, per request. */
export function perRequest(before: Record<string, number>, after: Record<string, number>, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) out[name] = (n - (before[name] ?? 0)) / requests;
  return out;
}

/**
 * An embedded PostgreSQL with a fresh database `name` and a DataSource on it (its version printed); `close` ends
 * both. What the benchmarks of large trails (query, purge, verify) start from.
 */
export async function benchPostgres(name: string): Promise<{ dataSource: DataSource; close: () => Promise<void> }> {
  const postgres = await startPostgres();
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgres.url);
  url.pathname = `/${name}`;
  const dataSource = new DataSource({ type: 'postgres', url: url.toString(), poolSize: 4 });
  await dataSource.initialize();
  const [server] = await dataSource.query<Array<{ server_version: string }>>('SHOW server_version');
  console.log(`PostgreSQL ${server?.server_version} (${postgres.description})`);
  const close = async () => {
    await dataSource.destroy();
    await postgres.stop();
  };
  return { dataSource, close };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/**
 * Runs `fn` while sampling the process's RSS and used heap every 250 ms (after a collection, with --expose-gc),
 * then prints them at start, 25/50/75 % and end of the run, and the peak: whether memory grows with the work.
 */
export async function sampledRun<T>(what: string, fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  globalThis.gc?.();
  const samples: Array<{ at: number; rss: number; heap: number }> = [];
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    samples.push({ at: performance.now(), rss, heap: heapUsed });
  };
  sample();
  const sampler = setInterval(sample, 250);
  const start = performance.now();
  let result: T;
  try {
    result = await fn();
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - start) / 1000;
  sample();
  console.log(`\n| moment of the ${what} | RSS MiB | heap used MiB |\n|---|---|---|`);
  const first = samples[0]!;
  const span = samples.at(-1)!.at - first.at;
  for (const [label, share] of [
    ['start', 0],
    ['25%', 0.25],
    ['50%', 0.5],
    ['75%', 0.75],
    ['end', 1],
  ] as const) {
    const at = first.at + span * share;
    const nearest = samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best));
    console.log(`| ${label} | ${mib(nearest.rss)} | ${mib(nearest.heap)} |`);
  }
  const peak = Math.max(...samples.map((s) => s.rss));
  console.log(`\npeak RSS ${mib(peak)} MiB (+${mib(peak - first.rss)} over the start); ${samples.length} samples`);
  return { result, seconds };
}

/** A node of a V8 CPU profile (`node --cpu-prof`), as the profiling benchmarks read it. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A bench server and the path it serves by POST: the Express JSON POST server of `bench:http` by default. */
export interface ProfiledServer {
  script: string;
  path: string;
}
export const EXPRESS_JSON: ProfiledServer = { script: './servers/express-json.ts', path: '/orders/42' };

/**
 * A bench server (`bench:http`'s by default) in `mode`, loaded alone for `seconds` (after 1 s of warm-up, in the
 * profile too: requests are counted over the whole run) under `node --cpu-prof`: its profile and request count.
 */
export async function profiledRun(
  mode: string,
  seconds: number,
  target: ProfiledServer = EXPRESS_JSON,
): Promise<{ requests: number; profile: CpuProfile }> {
  const body = { customer: 'c-17', items: [{ sku: 'book', qty: 2 }], note: 'leave at the door' };
  const dir = mkdtempSync(join(tmpdir(), 'actionlog-profile-'));
  try {
    const server = await startServer(target.script, { BENCH_MODE: mode }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const url = `http://127.0.0.1:${server.port}${target.path}`;
    await load(url, { durationSec: 1, body });
    await load(url, { durationSec: seconds, body });
    const { requests } = await server.usage();
    await server.stop();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`${mode}: the server wrote no CPU profile`);
    return { requests, profile: JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
