/**
 * Reads of a large trail on PostgreSQL: 1 000 000 stored model changes (200 000 requests of 5 changes and one
 * action each, recorded through the logger and written by its batched writer to SqlStore), then the history of
 * one record and first pages of `query` by actor, by target and by time range, each sampled at random keys;
 * p50/p99 latency through the logger (validation, SQL, rows to entries, cursor), and the plans PostgreSQL chose.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createActionLogger, SqlStore } from 'actionlog';
import { orderChange, orderState } from '../examples/shared/orders.js';
import { runUnderBenchNode } from './node-versions.js';
import { benchPostgres } from './support.js';

runUnderBenchNode('bench:query');

const CHANGES = Number(process.env.QUERY_BENCH_CHANGES ?? 1_000_000);
const SAMPLES = Number(process.env.QUERY_BENCH_SAMPLES ?? 200);
const PER_REQUEST = 5;
const REQUESTS = Math.ceil(CHANGES / PER_REQUEST);
/** About 50 changes per record, 2 000 per actor, 100 actions per target. */
const RECORDS = Math.max(1, Math.floor(CHANGES / 50));
const ACTORS = Math.max(1, Math.floor(CHANGES / 2000));
const TARGETS = Math.max(1, Math.floor(REQUESTS / 100));
const T0 = Date.UTC(2025, 0, 1);
/** One change every 30 s: 1 000 000 changes span about a year. */
const STEP_MS = 30_000;

console.log(`Node ${process.version}; ${CHANGES} model changes in ${REQUESTS} requests, ${SAMPLES} samples per read`);
const { dataSource, close: closeDatabase } = await benchPostgres('actionlog_query_bench');

const store = new SqlStore({ dataSource });
const logger = createActionLogger({
  store,
  batchSize: 200,
  flushIntervalMs: 0,
  maxQueueSize: 20_000,
  onError: (e) => {
    console.error(e);
  },
});

// Scattered: the changes of one record are far apart in the table, as when many records change over a year.
const recordOf = (change: number) => `o${(change * 7919) % RECORDS}`;
const actorOf = (request: number) => `u${(request * 31) % ACTORS}`;
const targetOf = (request: number) => String((request * 17) % TARGETS);

async function load(): Promise<void> {
  const t0 = performance.now();
  for (let r = 0; r < REQUESTS; r++) {
    const actor = actorOf(r);
    await logger.run({ user: { id: actor, name: `User ${actor}` } }, () => {
      for (let k = 0; k < PER_REQUEST; k++) {
        const change = r * PER_REQUEST + k;
        const id = recordOf(change);
        logger.recordModelChange(
          orderChange(id, {
            old_object: orderState(id, { total: change }),
            new_object: orderState(id, { status: 'paid', total: change + 1 }),
            timestamp: new Date(T0 + change * STEP_MS),
          }),
        );
      }
      logger.record({
        action: 'approve',
        actor: { ref: actor, type: 'user', name: `User ${actor}` },
        target: { type: 'order', id: targetOf(r) },
        emitted_at: new Date(T0 + r * PER_REQUEST * STEP_MS),
      });
    });
    if (r % 2000 === 1999) {
      await logger.flush();
      if (r % 40_000 === 39_999)
        console.log(`  ${(r + 1) * PER_REQUEST} changes stored, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  await logger.flush();
  const stats = logger.stats();
  if (stats.stored !== REQUESTS || stats.dropped > 0) throw new Error(`stored ${stats.stored} of ${REQUESTS} requests`);
  // What autovacuum does to a table at rest: visibility map and statistics.
  await dataSource.query('VACUUM ANALYZE');
  // And writes out what loading and VACUUM left dirty, so that reads are not measured against that flush.
  await dataSource.query('CHECKPOINT');
  console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s (writes, then VACUUM ANALYZE and CHECKPOINT)`);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

interface Read {
  label: string;
  run: (sample: number) => Promise<{ items: unknown[] }>;
}

const randomInt = (n: number) => Math.floor(Math.random() * n);
const SPAN_MS = CHANGES * STEP_MS;
const reads: Read[] = [
  { label: 'history(model, id), first page (50)', run: () => logger.history('orders', `o${randomInt(RECORDS)}`) },
  { label: 'changes by actor, first page', run: () => logger.query({ kind: 'changes', actor_id: `u${randomInt(ACTORS)}` }) },
  { label: 'actions by actor, first page', run: () => logger.query({ kind: 'actions', actor_id: `u${randomInt(ACTORS)}` }) },
  {
    label: 'actions by target, first page',
    run: () => logger.query({ kind: 'actions', target_type: 'order', target_id: String(randomInt(TARGETS)) }),
  },
  {
    label: 'changes by time range (1 day), first page',
    run: () => {
      const from = T0 + randomInt(SPAN_MS - 86_400_000);
      return logger.query({ kind: 'changes', from: new Date(from), to: new Date(from + 86_400_000) });
    },
  },
];

/** Time spent inside `dataSource.query` (the database's share of a read: round trip, rows parsed by the driver). */
let inDatabase = 0;
const send = dataSource.query.bind(dataSource);
dataSource.query = (async (sql: string, params?: unknown[]) => {
  const t0 = performance.now();
  try {
    return await send(sql, params);
  } finally {
    inDatabase += performance.now() - t0;
  }
}) as typeof dataSource.query;

/** The statements a read sends, caught on their way to the DataSource. */
async function statementsOf(read: () => Promise<unknown>): Promise<Array<[string, unknown[]]>> {
  const caught: Array<[string, unknown[]]> = [];
  const query = dataSource.query.bind(dataSource);
  dataSource.query = ((sql: string, params?: unknown[]) => {
    caught.push([sql, params ?? []]);
    return query(sql, params);
  }) as typeof dataSource.query;
  try {
    await read();
  } finally {
    dataSource.query = query;
  }
  return caught;
}

try {
  await load();
  const rows = await dataSource.query<Array<{ relname: string; n: number; size: string }>>(
    `SELECT relname, n_live_tup::int AS n, pg_size_pretty(pg_total_relation_size(relid)) AS size FROM pg_stat_user_tables ORDER BY relname`,
  );
  console.log(`tables: ${rows.map((r) => `${r.relname} ${r.n} rows, ${r.size}`).join('; ')}`);
  // Latency tails on a shared machine follow its load: said with the figures.
  console.log(
    `load average before the reads: ${loadavg()
      .map((n) => n.toFixed(2))
      .join(', ')} on ${cpus().length} cores`,
  );
  console.log('\n| read | p50 ms | p99 ms | max ms | in the database: p50 / p99 ms | mean items |\n|---|---|---|---|---|---|');
  for (const read of reads) {
    for (let i = 0; i < 20; i++) await read.run(i); // warm-up: connections, statement plans
    const times: number[] = [];
    const database: number[] = [];
    let items = 0;
    for (let i = 0; i < SAMPLES; i++) {
      inDatabase = 0;
      const t0 = performance.now();
      const page = await read.run(i);
      times.push(performance.now() - t0);
      database.push(inDatabase);
      items += page.items.length;
    }
    times.sort((a, b) => a - b);
    database.sort((a, b) => a - b);
    const f = (ms: number) => ms.toFixed(2);
    console.log(
      `| ${read.label} | ${f(percentile(times, 50))} | ${f(percentile(times, 99))} | ${f(times.at(-1)!)} | ${f(percentile(database, 50))} / ${f(percentile(database, 99))} | ${(items / SAMPLES).toFixed(1)} |`,
    );
  }
  for (const read of reads) {
    const [[sql, params]] = (await statementsOf(() => read.run(0))) as [[string, unknown[]]];
    const plan = await dataSource.query<Array<{ 'QUERY PLAN': string }>>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params);
    console.log(`\n${read.label}\n${sql}\n${plan.map((line) => `  ${line['QUERY PLAN']}`).join('\n')}`);
  }
} finally {
  await logger.close();
  await closeDatabase();
}
