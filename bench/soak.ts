/**
 * Soak: BENCH_SOAK_REQUESTS (default 1 000 000) requests through the Express + Mongoose endpoint with actionlog
 * (plugin, middleware, MongoStore on the app's connection), the server in its own process with --expose-gc and
 * MongoDB in another. Its RSS and heap used after a full collection are read every BENCH_SOAK_SAMPLE_SECONDS while
 * autocannon sends the requests over keep-alive connections; reported at the start, 25 %, middle, 75 % and end,
 * with the growth. Fails when any request fails, or when the store does not end up holding one request document
 * per answered request.
 */
import { MongoClient } from 'mongodb';
import { benchEnv, packageVersion, reportResults } from './results.js';
import { load, startMongoProcess, startServer, type Usage } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:soak');

const REQUESTS = Number(benchEnv('BENCH_SOAK_REQUESTS') ?? 1_000_000);
const SAMPLE_SECONDS = Number(benchEnv('BENCH_SOAK_SAMPLE_SECONDS') ?? 10);
const CONNECTIONS = Number(benchEnv('BENCH_SOAK_CONNECTIONS') ?? 16);
// create: one insert per request; save: findById + save() of one of 1 000 seeded orders (a find and an update).
const ENDPOINT = benchEnv('BENCH_SOAK_ENDPOINT') ?? 'create';
if (!['create', 'save'].includes(ENDPOINT)) throw new Error(`BENCH_SOAK_ENDPOINT must be create or save, not ${ENDPOINT}`);
const WARM_UP = Math.min(2000, Math.ceil(REQUESTS / 10));
const FULL = 1_000_000;

interface Sample extends Usage {
  seconds: number;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const mongo = await startMongoProcess();
const server = await startServer('./servers/express-mongoose.ts', { BENCH_MODE: 'actionlog', MONGODB_URI: mongo.uri }, ['--expose-gc']);
try {
  const url = `http://127.0.0.1:${server.port}/orders/${ENDPOINT}`;
  const warmUp = await load(url, { requests: WARM_UP, connections: CONNECTIONS });
  if (warmUp.errors > 0) throw new Error(`soak warm-up: ${warmUp.errors} of ${WARM_UP} requests failed`);

  const samples: Sample[] = [];
  const t0 = performance.now();
  // One reading at a time: the usage channel answers requests in turn, without telling them apart.
  let reading = Promise.resolve();
  const sample = () => (reading = reading.then(takeSample));
  const takeSample = async () => {
    const usage = await server.usage();
    samples.push({ ...usage, seconds: (performance.now() - t0) / 1000 });
    const s = samples.at(-1)!;
    const [first, previous] = [samples[0]!, samples.at(-2) ?? s];
    const cpu = s.seconds > previous.seconds ? (s.cpuMicros - previous.cpuMicros) / 1e6 / (s.seconds - previous.seconds) : 0;
    console.log(
      `${s.seconds.toFixed(0).padStart(6)} s  ${String(s.requests - first.requests).padStart(8)} requests  RSS ${mib(s.rss)} MiB  heap ${mib(s.heapUsed)} MiB  server CPU ${(cpu * 100).toFixed(0)} %`,
    );
  };
  await sample();
  const sampler = setInterval(() => void sample(), SAMPLE_SECONDS * 1000);
  let result;
  try {
    result = await load(url, { requests: REQUESTS, connections: CONNECTIONS });
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - t0) / 1000;
  await sample();
  const served = samples.at(-1)!.requests - samples[0]!.requests;
  if (result.errors > 0 || result.requests !== REQUESTS || served !== REQUESTS) {
    throw new Error(`soak: ${result.errors} of ${REQUESTS} requests failed; ${result.requests} answered, ${served} seen by the server`);
  }
  const stored = await storedRequestDocuments(mongo.uri, samples.at(-1)!.requests);
  if (stored !== samples.at(-1)!.requests) {
    throw new Error(`soak: the server answered ${samples.at(-1)!.requests} requests, the store holds ${stored} request documents`);
  }

  const rate = REQUESTS / seconds;
  const at = (share: number) =>
    samples.reduce((best, s) => (Math.abs(s.requests - target(share)) <= Math.abs(best.requests - target(share)) ? s : best));
  const target = (share: number) => samples[0]!.requests + share * REQUESTS;
  const moments = [
    ['start', at(0)],
    ['25 %', at(0.25)],
    ['middle', at(0.5)],
    ['75 %', at(0.75)],
    ['end', at(1)],
  ] as const;
  const [start, middle, end] = [moments[0][1], moments[2][1], moments[4][1]];
  const peak = samples.reduce((max, s) => Math.max(max, s.rss), 0);
  reportResults(
    'bench:soak',
    [
      {
        title: `Soak: ${thousands(REQUESTS)} requests (POST /orders/${ENDPOINT}) through Express + Mongoose with actionlog, ${CONNECTIONS} keep-alive connections`,
        columns: ['moment', 'requests answered', 'seconds', 'server RSS MiB', 'heap used after GC MiB'],
        rows: [
          ...moments.map(([label, s]) => [label, s.requests - samples[0]!.requests, s.seconds.toFixed(0), mib(s.rss), mib(s.heapUsed)]),
          ['growth, start → middle', '', '', signed(middle.rss - start.rss), signed(middle.heapUsed - start.heapUsed)],
          ['growth, middle → end', '', '', signed(end.rss - middle.rss), signed(end.heapUsed - middle.heapUsed)],
          ['growth, start → end', '', '', signed(end.rss - start.rss), signed(end.heapUsed - start.heapUsed)],
        ],
        notes: [
          `${rate.toFixed(0)} requests a second over ${seconds.toFixed(0)} s (at this rate, ${thousands(FULL)} requests take ${(FULL / rate / 60).toFixed(0)} min);` +
            ` peak RSS ${mib(peak)} MiB over ${samples.length} samples, one every ${SAMPLE_SECONDS} s after ${WARM_UP} requests of warm-up;` +
            ` all ${thousands(stored)} request documents stored (warm-up included), 0 requests failed.`,
        ],
      },
    ],
    { express: packageVersion('express'), mongoose: packageVersion('mongoose'), MongoDB: mongo.description },
  );
} finally {
  await server.stop();
  mongo.stop();
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

function signed(bytes: number): string {
  return `${bytes >= 0 ? '+' : ''}${mib(bytes)}`;
}

/** Documents of HTTP requests in the server's database once the writer caught up (the count stops changing) or reached `expected`. */
async function storedRequestDocuments(uri: string, expected: number): Promise<number> {
  const client = await MongoClient.connect(uri);
  try {
    const { databases } = await client.db('admin').admin().listDatabases();
    const name = databases.map((d) => d.name).find((n) => n.startsWith('bench_actionlog_'));
    if (!name) throw new Error('soak: the server created no database');
    const collection = client.db(name).collection('actionlog_requests');
    let count = -1;
    for (let still = 0; still < 5;) {
      // The seeded orders are recorded outside any request, as documents of their own: only HTTP requests count.
      const now = await collection.countDocuments({ 'details.request': { $ne: null } });
      if (now === expected) return now;
      still = now === count ? still + 1 : 0;
      count = now;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return count;
  } finally {
    await client.close();
  }
}
