/**
 * An Express + Mongoose endpoint doing findById + save() and an updateOne() per request, served five ways at
 * once, side by side on one core (see support.ts): no audit and actionlog on the project's Mongoose, no audit
 * and ts-patch-mongoose on the same Mongoose, no audit and mongoose-diff-history on Mongoose 8 (the newest it
 * runs on). Each server has a MongoDB of its own in another process. Figures: throughput and CPU per request
 * as ratios to the baseline on the same Mongoose, and database commands per request from the driver's
 * command monitoring, for the measured endpoint and for a findById + save() alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchEnv, packageVersion, reportResults } from './results.js';
import { median, pairedRun, type PairedResult, perRequest, startMongoProcess, startServer, type Usage } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:mongoose');

const ROUNDS = Number(benchEnv('BENCH_ROUNDS') ?? 3);
const SECONDS = Number(benchEnv('BENCH_SECONDS') ?? 8);
const SAVE_ONLY_REQUESTS = 300;

// The peers are installed on first run under bench/peers/, each with the Mongoose it runs on.
const peerDir = (peer: string) => fileURLToPath(new URL(`./peers/${peer}/`, import.meta.url));
const allServers: Array<{ name: string; script: string; peer?: string; baseline?: string }> = [
  { name: 'baseline', script: './servers/express-mongoose.ts' },
  { name: 'actionlog', script: './servers/express-mongoose.ts', baseline: 'baseline' },
  { name: 'ts-patch-mongoose', script: './peers/ts-patch-mongoose/server.ts', peer: 'ts-patch-mongoose', baseline: 'baseline' },
  { name: 'baseline-8', script: './peers/mongoose-diff-history/server.ts', peer: 'mongoose-diff-history' },
  {
    name: 'mongoose-diff-history',
    script: './peers/mongoose-diff-history/server.ts',
    peer: 'mongoose-diff-history',
    baseline: 'baseline-8',
  },
  // Only when named: the middleware and store, no plugin.
  { name: 'actionlog-http-only', script: './servers/express-mongoose.ts', baseline: 'baseline' },
];
// BENCH_SERVERS=baseline,actionlog runs a subset.
const only = benchEnv('BENCH_SERVERS')?.split(',');
const servers = allServers.filter((s) => (only ? only.includes(s.name) : s.name !== 'actionlog-http-only'));
const peers = [...new Set(servers.flatMap((s) => (s.peer ? [s.peer] : [])))];
for (const peer of peers) {
  if (!existsSync(`${peerDir(peer)}node_modules/${peer}`)) {
    console.log(`installing ${peer} for the comparison...`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: peerDir(peer), stdio: 'inherit' });
  }
}
const mongooseOf = (s: { peer?: string }) => packageVersion('mongoose', s.peer ? peerDir(s.peer) : undefined);

const throughput = new Map<string, number[]>();
const cpu = new Map<string, number[]>();
// Requests a second of every server, baselines included, per round.
const rates = new Map<string, number[]>();
let commandsPerRequest = new Map<string, Usage['counters']>();
let database = '';

for (let round = 0; round < ROUNDS; round++) {
  const databases = await Promise.all(servers.map(() => startMongoProcess()));
  database = databases[0]!.description;
  try {
    const specs = servers.map((s, i) => ({
      name: s.name,
      script: s.script,
      env: { BENCH_MODE: s.name, MONGODB_URI: databases[i]!.uri },
      path: '/orders',
    }));
    const results = await pairedRun(specs, { seconds: SECONDS, body: {} });
    const byName = new Map<string, PairedResult>(results.map((r) => [r.name, r]));
    for (const r of results) push(rates, r.name, r.requestsPerSec);
    const line: string[] = [];
    for (const s of servers) {
      if (!s.baseline) continue;
      const [x, base] = [byName.get(s.name)!, byName.get(s.baseline)!];
      push(throughput, s.name, x.requestsPerSec / base.requestsPerSec);
      push(cpu, s.name, x.cpuPerRequest / base.cpuPerRequest);
      line.push(
        `${s.name} ${x.requestsPerSec.toFixed(0)}/${base.requestsPerSec.toFixed(0)} req/s = ${throughput.get(s.name)!.at(-1)!.toFixed(3)}`,
      );
    }
    console.log(`round ${round + 1}: ${line.join(', ')}`);
    commandsPerRequest = new Map(results.map((r) => [r.name, r.counters]));
  } finally {
    for (const db of databases) db.stop();
  }
}

// Database commands of a findById + save() alone, per request, counted on a fresh server of each kind.
const saveOnly = new Map<string, Usage['counters']>();
{
  const databases = await Promise.all(servers.map(() => startMongoProcess()));
  try {
    await Promise.all(
      servers.map(async (s, i) => {
        const server = await startServer(s.script, { BENCH_MODE: s.name, MONGODB_URI: databases[i]!.uri });
        try {
          const before = await server.usage();
          for (let r = 0; r < SAVE_ONLY_REQUESTS; r++) {
            const res = await fetch(`http://127.0.0.1:${server.port}/orders/save`, { method: 'POST' });
            if (!res.ok) throw new Error(`${s.name}: /orders/save answered ${res.status}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 1500)); // let audit writes queued off the hot path land
          const after = await server.usage();
          saveOnly.set(s.name, perRequest(before.counters, after.counters, SAVE_ONLY_REQUESTS));
        } finally {
          await server.stop();
        }
      }),
    );
  } finally {
    for (const db of databases) db.stop();
  }
}

const fmt = (c: Usage['counters'] | undefined) =>
  Object.entries(c ?? {})
    .filter(([, n]) => n >= 0.005)
    .map(([name, n]) => `${name} ${n.toFixed(2)}`)
    .join(', ');
const total = (c: Usage['counters'] | undefined) => Object.values(c ?? {}).reduce((a, b) => a + b, 0);

const audited = servers.filter((s) => s.baseline);
reportResults(
  'bench:mongoose',
  [
    {
      title: `Express + Mongoose, findById + save() + updateOne() per request, side by side on one core (median of ${ROUNDS} rounds of ${SECONDS} s)`,
      columns: ['server', 'Mongoose', 'req/s', 'no audit req/s', 'throughput / no audit, rounds', 'median', 'CPU per request / no audit'],
      rows: audited.map((s) => {
        const t = throughput.get(s.name)!;
        return [
          s.name,
          mongooseOf(s),
          median(rates.get(s.name)!).toFixed(0),
          median(rates.get(s.baseline!)!).toFixed(0),
          t.map((r) => r.toFixed(3)).join(', '),
          `**${median(t).toFixed(3)}**`,
          median(cpu.get(s.name)!).toFixed(3),
        ];
      }),
      notes: [`MongoDB: ${database}, one per server, in its own process. Ratios are to no audit on the same Mongoose.`],
    },
    {
      title: 'Database commands per request (driver command monitoring; last round, then fresh servers)',
      columns: ['server', 'measured endpoint', 'findById() + save() alone'],
      rows: servers.map((s) => {
        const [a, b] = [commandsPerRequest.get(s.name), saveOnly.get(s.name)];
        return [s.name, `${total(a).toFixed(2)} (${fmt(a)})`, `${total(b).toFixed(2)} (${fmt(b)})`];
      }),
      notes: ['Fractions above whole numbers in the measured endpoint are commands in flight when the counters were read.'],
    },
  ],
  {
    express: packageVersion('express'),
    mongoose: packageVersion('mongoose'),
    ...Object.fromEntries(
      peers.flatMap((peer) => [
        [peer, packageVersion(peer, peerDir(peer))],
        [`mongoose (${peer})`, packageVersion('mongoose', peerDir(peer))],
      ]),
    ),
    MongoDB: database,
  },
);

function push(map: Map<string, number[]>, key: string, value: number): void {
  map.set(key, [...(map.get(key) ?? []), value]);
}
