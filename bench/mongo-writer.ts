/**
 * 10 000 request documents with 5 model logs each, written to MongoDB by actionlog's batched writer and by
 * the same writer one request at a time (batchSize 1, what a per-request insert amounts to). Round trips
 * are the database commands counted by the driver's command monitoring. MongoDB runs in its own process.
 */
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { createActionLogger, MongoStore } from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { orderChange, orderState } from '../examples/shared/orders.js';
import { benchEnv, packageVersion, reportResults } from './results.js';
import { median, startMongoProcess } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:mongo');

const REQUESTS = Number(benchEnv('BENCH_REQUESTS') ?? 10_000);
const ROUNDS = Number(benchEnv('BENCH_ROUNDS') ?? 3);

const { uri, description, stop } = await startMongoProcess();

const client = await MongoClient.connect(uri, { monitorCommands: true });
let commands = 0;
client.on('commandStarted', (e) => {
  if (['insert', 'update'].includes(e.commandName)) commands++;
});

function changes(r: number): ModelChange[] {
  return Array.from({ length: 5 }, (_, i) => {
    const id = `${r}-${i}`;
    return orderChange(id, {
      old_object: orderState(id, { total: 10 + i }),
      new_object: orderState(id, { status: 'paid', total: 12 + i, customer: { name: 'Ada', city: 'Bergen' } }),
    });
  });
}

async function run(batchSize: number): Promise<{ perSecond: number; roundTrips: number }> {
  const db = client.db(`actionlog_bench_${randomUUID().slice(0, 8)}`);
  // maxBatchSize: batchSize, or a writer behind the requests puts up to 10 × batchSize in one write: the variant of
  // one write per request would no longer be one.
  const logger = createActionLogger({
    store: new MongoStore({ db }),
    batchSize,
    maxBatchSize: batchSize,
    flushIntervalMs: 0,
    maxQueueSize: REQUESTS + 1,
  });
  await logger.ready();
  const before = commands;
  const t0 = performance.now();
  for (let r = 0; r < REQUESTS; r++) {
    await logger.run({ module: 'bench' }, () => {
      for (const change of changes(r)) logger.recordModelChange(change);
    });
  }
  await logger.flush();
  const seconds = (performance.now() - t0) / 1000;
  const stats = logger.stats();
  await logger.close();
  if (stats.stored !== REQUESTS || (await db.collection('actionlog_requests').countDocuments()) !== REQUESTS)
    throw new Error(`stored ${stats.stored} of ${REQUESTS}`);
  await db.dropDatabase();
  return { perSecond: REQUESTS / seconds, roundTrips: (commands - before) / REQUESTS };
}

const batched: number[] = [];
const single: number[] = [];
let trips = { batched: 0, single: 0 };
for (let round = 0; round < ROUNDS; round++) {
  const b = await run(100);
  const s = await run(1);
  batched.push(b.perSecond);
  single.push(s.perSecond);
  trips = { batched: b.roundTrips, single: s.roundTrips };
  console.log(
    `round ${round + 1}: batched ${b.perSecond.toFixed(0)} docs/s, one per request ${s.perSecond.toFixed(0)} docs/s, ratio ${(b.perSecond / s.perSecond).toFixed(2)}`,
  );
}
const ratios = batched.map((b, i) => b / single[i]!);
reportResults(
  'bench:mongo',
  [
    {
      title: `MongoDB writer, ${REQUESTS} request documents × 5 model logs (median of ${ROUNDS} rounds)`,
      columns: ['writer', 'documents/s', 'round trips per document'],
      rows: [
        ['batched (100 per write)', median(batched).toFixed(0), trips.batched.toFixed(3)],
        ['one write per request (`batchSize: 1`)', median(single).toFixed(0), trips.single.toFixed(3)],
      ],
      notes: [
        `Throughput ratio batched / one per request: ${ratios.map((r) => r.toFixed(2)).join(', ')}; median **${median(ratios).toFixed(2)}**.`,
      ],
    },
  ],
  { MongoDB: description, 'mongodb (driver)': packageVersion('mongodb') },
);
await client.close();
stop();
