/**
 * `logger.verify` of a large sealed trail on PostgreSQL: VERIFY_BENCH_ENTRIES stored entries (default 1 000 000),
 * requests of 5 model changes and one action, each stored as its request document and its `model_logs` and
 * `action_logs` mirrors (7 entries a request), recorded through a logger with tamper evidence on and written by its
 * batched writer to SqlStore: a sealed trail cannot be copied in SQL, each link hashes the one before. Then a
 * logger of its own verifies the whole trail while the process's RSS is sampled: verify holds a page per kind and
 * the links waiting for a missing one, so its memory must stay flat however long the trail is.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { type ActionLogger, createActionLogger, SqlStore } from 'actionlog';
import { orderChange, orderState } from '../examples/shared/orders.js';
import { runUnderBenchNode } from './node-versions.js';
import { benchPostgres, sampledRun } from './support.js';

runUnderBenchNode('bench:verify');

const ENTRIES = Number(process.env.VERIFY_BENCH_ENTRIES ?? 1_000_000);
const PER_REQUEST = 5;
/** The request document, its changes in `model_logs`, its action in `action_logs`. */
const ENTRIES_PER_REQUEST = PER_REQUEST + 2;
const REQUESTS = Math.ceil(ENTRIES / ENTRIES_PER_REQUEST);

console.log(
  `Node ${process.version}; ${REQUESTS * ENTRIES_PER_REQUEST} entries (${REQUESTS} requests of ${PER_REQUEST} changes and an action)`,
);
const { dataSource, close: closeDatabase } = await benchPostgres('actionlog_verify_bench');

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const onError = (error: Error) => {
  console.error(error);
};

async function load(): Promise<void> {
  const writer = createActionLogger({
    store: new SqlStore({ dataSource }),
    integrity: { key: privateKey },
    batchSize: 1000,
    flushIntervalMs: 0,
    maxQueueSize: 20_000,
    onError,
  });
  const t0 = performance.now();
  for (let r = 0; r < REQUESTS; r++) {
    const actor = `u${r % 500}`;
    await writer.run({ user: { id: actor, name: `User ${actor}` } }, () => {
      for (let k = 0; k < PER_REQUEST; k++) {
        const id = `o${(r * PER_REQUEST + k) % 20_000}`;
        writer.recordModelChange(
          orderChange(id, { old_object: orderState(id, { total: k }), new_object: orderState(id, { status: 'paid', total: k + 1 }) }),
        );
      }
      writer.record({
        action: 'approve',
        actor: { ref: actor, type: 'user', name: actor },
        target: { type: 'order', id: String(r % 2000) },
      });
    });
    if (r % 2000 === 1999) {
      await writer.flush();
      if (r % 20_000 === 19_999)
        console.log(`  ${(r + 1) * ENTRIES_PER_REQUEST} entries stored, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  await writer.flush();
  const stats = writer.stats();
  // The closing checkpoint: the chain's newest links are signed, nothing may follow them.
  await writer.close();
  if (stats.stored !== REQUESTS || stats.dropped > 0) throw new Error(`stored ${stats.stored} of ${REQUESTS} requests`);
  await dataSource.query('VACUUM ANALYZE');
  await dataSource.query('CHECKPOINT');
  console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s (writes, then VACUUM ANALYZE and CHECKPOINT)`);
}

/** With VERIFY_BENCH_PROFILE=<file>, a CPU profile of `fn` written there (a .cpuprofile, as DevTools opens). */
async function profiled<T>(fn: () => Promise<T>): Promise<T> {
  const file = process.env.VERIFY_BENCH_PROFILE;
  if (!file) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  }
}

let auditor: ActionLogger | undefined;
try {
  await load();
  // A logger of its own, as an auditor's: it holds the public key only.
  auditor = createActionLogger({ store: new SqlStore({ dataSource }), onError });
  const rows = await dataSource.query<Array<{ relname: string; n: number; size: string }>>(
    `SELECT relname, n_live_tup::int AS n, pg_size_pretty(pg_total_relation_size(relid)) AS size FROM pg_stat_user_tables ORDER BY relname`,
  );
  console.log(`tables: ${rows.map((r) => `${r.relname} ${r.n} rows, ${r.size}`).join('; ')}`);

  const verifier = auditor;
  const { result: report, seconds } = await sampledRun('verify', () => profiled(() => verifier.verify({ keys: [publicKey] })));

  const { entries, links, chains, checkpoints } = report.summary;
  console.log(
    `verified ${entries} entries (${links} links, ${chains} chain, ${checkpoints} checkpoints) in ${seconds.toFixed(1)} s: ` +
      `${Math.round(entries / seconds)} entries/s; status ${report.status}`,
  );
  if (report.status !== 'intact') {
    console.error(
      `an untouched trail should verify intact: ${JSON.stringify({ findings: report.findings.slice(0, 5), unverifiable: report.unverifiable })}`,
    );
    process.exitCode = 1;
  }
} finally {
  await auditor?.close();
  await closeDatabase();
}
