/**
 * A JSON POST endpoint on Express. BENCH_MODE picks what runs in front of it:
 *   baseline   no audit
 *   floor      AsyncLocalStorage.run + an X-Request-Id header + a 'close' listener: the least any
 *              AsyncLocalStorage-based request audit does, for reading the other figures against
 *   null-store actionlog writing to a store that keeps nothing (actionlog's own cost)
 *   actionlog  actionlog on a MemoryStore
 *   actionlog-integrity  the same with tamper evidence on (an Ed25519 key generated at start)
 *   null-store-integrity null-store with tamper evidence on: its cost without a store that keeps every document in
 *                        this process's heap (as a database does)
 *   pino-http  pino-http logging every request to /dev/null: what applications already pay to log each request
 *   actionlog-slow-store        actionlog on a store that takes 200 ms per write
 *   actionlog-4-writes-slow-store  the same with concurrentWrites: 4
 *   actionlog-spool-slow-store  the same with a spool (in a temporary folder)
 *   actionlog-hung-store  actionlog on a store that never answers: what the writer holds per request while it waits
 * Prints its port; answers usage requests from the bench (see support.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
// The built package, as users run it (`npm run bench` builds first).
import { createActionLogger, MemoryStore } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { orderChange } from '../../examples/shared/orders.js';
import { nullStore, reportUsage, slowStore } from '../support.js';

const MODES = [
  'baseline',
  'floor',
  'null-store',
  'actionlog',
  'actionlog-integrity',
  'null-store-integrity',
  'pino-http',
  'actionlog-slow-store',
  'actionlog-4-writes-slow-store',
  'actionlog-spool-slow-store',
  'actionlog-hung-store',
];
const mode = process.env.BENCH_MODE ?? 'baseline';
if (!MODES.includes(mode)) throw new Error(`BENCH_MODE ${mode} is none of ${MODES.join(', ')}`);
const hungStore = { ...nullStore, write: () => new Promise<void>(() => {}) };
const store =
  mode === 'actionlog' || mode === 'actionlog-integrity'
    ? new MemoryStore()
    : mode === 'null-store' || mode === 'null-store-integrity'
      ? nullStore
      : mode.endsWith('slow-store')
        ? slowStore(200)
        : mode === 'actionlog-hung-store'
          ? hungStore
          : undefined;
const integrity = mode.endsWith('-integrity') ? { key: generateKeyPairSync('ed25519').privateKey } : undefined;
const spool = mode === 'actionlog-spool-slow-store' ? { dir: mkdtempSync(join(tmpdir(), 'actionlog-bench-spool-')) } : undefined;
const concurrentWrites = mode === 'actionlog-4-writes-slow-store' ? 4 : undefined;
const logger = store
  ? createActionLogger({
      store,
      ...(integrity ? { integrity } : {}),
      ...(spool ? { spool } : {}),
      ...(concurrentWrites ? { concurrentWrites } : {}),
    })
  : undefined;

const app = express();
if (logger) app.use(actionLog(logger));
if (mode === 'pino-http') {
  // Loaded only in this mode, so the other modes run in a checkout installed without it.
  const [{ pino }, { pinoHttp }] = await Promise.all([import('pino'), import('pino-http')]);
  app.use(pinoHttp({ logger: pino(pino.destination('/dev/null')) }));
}
if (mode === 'floor') {
  const als = new AsyncLocalStorage<object>();
  const noop = () => {};
  app.use((_req, res, next) => {
    res.setHeader('x-request-id', randomUUID());
    res.on('close', noop);
    als.run({}, next);
  });
}
app.use(express.json());
app.post('/orders/:id', (req, res) => {
  const order = { _id: req.params.id, ...(req.body as Record<string, unknown>), status: 'paid' };
  // What an ORM plugin reports for the write this endpoint stands for.
  logger?.recordModelChange(orderChange(req.params.id, { old_object: { ...order, status: 'new' }, new_object: order }));
  res.status(200).json(order);
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`PORT ${(server.address() as AddressInfo).port}`);
});
// The writer's backlog, so a bench can tell a writer that keeps up from one that falls behind.
reportUsage(server, (): Record<string, number> => {
  if (!logger) return {};
  const { queued, dropped } = logger.stats();
  return { queued, dropped };
});
// Closed so that what the writer holds is stored (with integrity on, the closing checkpoint) and nothing warns at exit.
process.on('SIGTERM', () =>
  server.close(
    () =>
      // A hung store never takes what the writer holds: it is let go after a moment.
      void (logger?.close(store === hungStore ? { timeout: 100 } : {}) ?? Promise.resolve()).then(() => {
        if (spool) rmSync(spool.dir, { recursive: true, force: true });
        process.exit(0);
      }),
  ),
);
