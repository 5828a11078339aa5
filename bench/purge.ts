/**
 * `logger.purge` of a large trail on PostgreSQL: 1 000 000 model changes (200 000 requests of 5 changes and one
 * action each). 1 000 requests are recorded through the logger and stored by SqlStore; the rest are copies of
 * those rows made in SQL (fresh `uid`, times moved back), so that loading takes a minute, not ten. Then one
 * `purge({ before })` deletes them all in batches while the process's RSS is sampled: it must stay flat, one batch
 * at a time, however many entries there are.
 */
import { performance } from 'node:perf_hooks';
import { createActionLogger, SqlStore } from 'actionlog';
import { orderChange, orderState } from '../examples/shared/orders.js';
import { runUnderBenchNode } from './node-versions.js';
import { benchPostgres, sampledRun } from './support.js';

runUnderBenchNode('bench:purge');

const CHANGES = Number(process.env.PURGE_BENCH_CHANGES ?? 1_000_000);
const BATCH = Number(process.env.PURGE_BENCH_BATCH ?? 1000);
const PER_REQUEST = 5;
const SEED_REQUESTS = 1000;
const COPIES = Math.max(1, Math.round(CHANGES / (SEED_REQUESTS * PER_REQUEST)));
const T0 = Date.UTC(2025, 0, 1);

console.log(`Node ${process.version}; ${SEED_REQUESTS * COPIES * PER_REQUEST} model changes, purge batches of ${BATCH}`);
const { dataSource, close: closeDatabase } = await benchPostgres('actionlog_purge_bench');
const logger = createActionLogger({ store: new SqlStore({ dataSource }), batchSize: 200, flushIntervalMs: 0 });
await logger.ready();

async function seed(): Promise<void> {
  for (let r = 0; r < SEED_REQUESTS; r++) {
    const actor = `u${r % 50}`;
    await logger.run({ user: { id: actor, name: `User ${actor}` } }, () => {
      for (let k = 0; k < PER_REQUEST; k++) {
        const id = `o${(r * PER_REQUEST + k) % 997}`;
        logger.recordModelChange(
          orderChange(id, {
            old_object: orderState(id, { total: k }),
            new_object: orderState(id, { status: 'paid', total: k + 1 }),
            timestamp: new Date(T0 + r * 60_000),
          }),
        );
      }
      logger.record({ action: 'approve', actor: { ref: actor, type: 'user', name: actor }, target: { type: 'order', id: String(r) } });
    });
  }
  await logger.flush();
}

/** Copies every row of a table `COPIES - 1` times in SQL: a new uid each, its time moved back a day per copy. */
async function multiply(table: string, timeColumn: string): Promise<void> {
  const columns = (
    await dataSource.query<Array<{ column_name: string }>>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND column_name NOT IN ('id', 'txid')`,
      [table],
    )
  ).map((row) => row.column_name);
  const values = columns.map((column) => {
    if (column === 'uid') return 'gen_random_uuid()::text';
    if (column === timeColumn) return `"${column}" - make_interval(days => copy)`;
    return `"${column}"`;
  });
  const list = columns.map((column) => `"${column}"`).join(', ');
  await dataSource.query(
    `INSERT INTO "${table}" (${list}) SELECT ${values.join(', ')} FROM "${table}", generate_series(1, ${COPIES - 1}) AS copy`,
  );
}

const countRows = async (table: string) =>
  Number((await dataSource.query<Array<{ n: string }>>(`SELECT count(*) AS n FROM "${table}"`))[0]?.n ?? 0);

const t0 = performance.now();
await seed();
await multiply('actionlog_model_logs', 'timestamp');
await multiply('actionlog_action_logs', 'emitted_at');
await multiply('actionlog_requests', 'timestamp');
await dataSource.query('VACUUM ANALYZE');
const tables = ['actionlog_requests', 'actionlog_action_logs', 'actionlog_model_logs'];
const before = Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await countRows(table)] as const)));
console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${tables.map((t) => `${t} ${before[t]}`).join(', ')}`);

const { result: counts, seconds } = await sampledRun('purge', () =>
  logger.purge({ before: new Date(Date.UTC(2100, 0, 1)), batchSize: BATCH }),
);

const deleted = counts.requests + counts.actions + counts.changes + counts.activities;
const after = await Promise.all(tables.map(countRows));
console.log(
  `purged ${JSON.stringify(counts)} in ${seconds.toFixed(1)} s (${Math.round(deleted / seconds)} entries/s); left: ${after.join(', ')}`,
);

await logger.close();
await closeDatabase();
if (after.some((n) => n !== 0)) {
  console.error('purge left rows behind');
  process.exitCode = 1;
}
