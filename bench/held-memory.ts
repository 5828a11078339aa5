/**
 * Heap held per request on the Express JSON POST server of `bench:http`: by the writer while its store does not
 * answer (`actionlog-hung-store`: what a backlog behind a slow or absent database costs), and by a MemoryStore
 * keeping each stored document (`actionlog`). Each mode: a warm-up, the heap after a full GC, N more requests, the
 * heap after a full GC again. What a young document holds is what each scavenge copies while the store is slow.
 * Needs the package built (`npm run build`).
 */
import { reportResults } from './results.js';
import { load, startServer } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:held-memory');

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5000);
const MODES = ['actionlog-hung-store', 'actionlog'];
const body = { customer: 'c-17', items: [{ sku: 'book', qty: 2 }], note: 'leave at the door' };

const rows: string[][] = [];
for (const mode of MODES) {
  const server = await startServer('./servers/express-json.ts', { BENCH_MODE: mode }, ['--expose-gc']);
  const url = `http://127.0.0.1:${server.port}/orders/42`;
  await load(url, { requests: 500, connections: 8, body });
  const before = await server.usage();
  const result = await load(url, { requests: REQUESTS, connections: 8, body });
  const after = await server.usage();
  await server.stop();
  if (result.errors > 0) throw new Error(`${mode}: ${result.errors} requests failed`);
  const requests = after.requests - before.requests;
  const perRequest = (after.heapUsed - before.heapUsed) / requests;
  rows.push([mode, String(requests), `${perRequest.toFixed(0)} B`, String(after.counters.queued ?? 0)]);
  console.log(`${mode}: ${perRequest.toFixed(0)} B a request over ${requests} requests`);
}
reportResults('bench:held-memory', [
  {
    title: `Heap held per request, Express JSON POST, ${REQUESTS} requests after a warm-up (after a full GC)`,
    columns: ['mode', 'requests', 'heap per request', 'writer backlog'],
    rows,
    notes: ['`actionlog-hung-store`: the documents wait in the writer; `actionlog`: a MemoryStore keeps them.'],
  },
]);
