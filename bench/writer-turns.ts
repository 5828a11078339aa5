/**
 * How long the writer holds the event loop at a time, while it keeps up: a full batch of scopes (100,
 * `BENCH_BATCH_SIZE`; one model change each, as the Express benchmark's requests) is queued and stored on a store
 * that keeps nothing and answers each write in a later turn, as a database does. A probe chained by `setImmediate`
 * notes each gap between its turns: a request arriving meanwhile waits up to the gap it arrives in. Integrity off
 * and on, 40 batches each: the longest gap of each batch, its median and 90th percentile over the batches. (A
 * writer that is behind, a full batch waiting, builds without yielding: it must catch up.)
 */
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createActionLogger } from 'actionlog';
import { orderChange, orderState } from '../examples/shared/orders.js';
import { benchEnv, reportResults } from './results.js';
import { nullStore } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:writer-turns');

const RUNS = 40;
const BATCH_SIZE = Number(benchEnv('BENCH_BATCH_SIZE') ?? 100);

/**
 * Keeps nothing, and answers each write in a later turn of the event loop, as a database's answer comes; while
 * the scopes are queued its first write waits, so that the writer's work falls inside the probe's watch.
 */
function laterStore(opened: Promise<void>) {
  return { ...nullStore, write: () => opened.then(() => new Promise<void>((resolve) => setImmediate(resolve))) };
}

async function gaps(integrity: boolean): Promise<number[]> {
  const key = generateKeyPairSync('ed25519').privateKey;
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const logger = createActionLogger({
    store: laterStore(opened),
    batchSize: BATCH_SIZE,
    flushIntervalMs: 60_000,
    ...(integrity ? { integrity: { key } } : {}),
  });
  for (let i = 0; i < BATCH_SIZE; i++) {
    const id = `o${i}`;
    await logger.run({ module: 'bench' }, () => {
      logger.recordModelChange(orderChange(id, { old_object: orderState(id), new_object: orderState(id, { status: 'paid' }) }));
    });
  }
  const seen: number[] = [];
  let probing = true;
  let last = performance.now();
  const probe = () => {
    const now = performance.now();
    seen.push(now - last);
    last = now;
    if (probing) setImmediate(probe);
  };
  setImmediate(probe);
  open();
  await logger.flush();
  // The probe's turn after the writer's last one.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  probing = false;
  await logger.close();
  return seen;
}

const rows: string[][] = [];
for (const integrity of [false, true]) {
  await gaps(integrity); // warm-up
  const longest: number[] = [];
  for (let i = 0; i < RUNS; i++) longest.push(Math.max(...(await gaps(integrity))));
  longest.sort((a, b) => a - b);
  const at = (q: number) => (longest[Math.min(longest.length - 1, Math.floor(longest.length * q))] ?? 0).toFixed(2);
  rows.push([integrity ? 'integrity on' : 'integrity off', at(0.5), at(0.9)]);
}
reportResults('bench:writer-turns', [
  {
    title: `The writer's turns: gaps between event-loop turns while a batch of ${BATCH_SIZE} scopes is stored (${RUNS} batches)`,
    columns: ['', 'longest gap of a batch: median, ms', 'p90, ms'],
    rows,
  },
]);
