/**
 * A process of the durable-delivery review tests (run with tsx). Arguments: a scenario, then its own.
 * - `two-shutdowns`: an HTTP server and two loggers, each with `installShutdownHandlers({ servers })`, and no
 *   handler of the app's own; tells the parent (IPC) its URL once it listens.
 * - `spool-away <dir> <count> <prefix>`: records `count` runs (`<prefix>-<i>`) through a logger with a spool in
 *   `dir` whose store never answers; once all are spooled or dropped, prints one JSON line (pid, stats, errors) and
 *   waits to be killed.
 * - `enospc <dir> <filler>`: as `spool-away`, one run at a time, until the spool's disk is full (an append fails);
 *   then deletes `filler` (space comes back), records 20 more runs, prints its JSON line and dies by SIGKILL.
 * - `replay <dir>`: a logger on `dir` with a store that answers; prints the request documents it stored, the torn
 *   lines, and its errors.
 */
import { createServer } from 'node:http';
import { unlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createActionLogger } from '../../src/logger.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import type { StoreBatch } from '../../src/shared/document.js';

class AwayStore extends MemoryStore {
  override async ping(): Promise<void> {
    throw new Error('connection refused');
  }

  override async write(_batch: StoreBatch): Promise<void> {
    throw new Error('connection refused');
  }
}

const [scenario, ...args] = process.argv.slice(2);
const errors: string[] = [];
const onError = (error: Error) => {
  if (!/connection refused|retrying/.test(`${error.message} ${String((error.cause as Error | undefined)?.message)}`))
    errors.push(error.message);
};

if (scenario === 'two-shutdowns') {
  const server = createServer((_req, res) => res.end('ok'));
  const first = createActionLogger({ store: new MemoryStore() });
  const second = createActionLogger({ store: new MemoryStore() });
  first.installShutdownHandlers({ timeout: 2000, servers: [server] });
  second.installShutdownHandlers({ timeout: 2000, servers: [server] });
  server.listen(0, '127.0.0.1', () => {
    process.send!(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => {
      process.disconnect();
    });
  });
} else if (scenario === 'spool-away') {
  const [dir, countText, prefix] = args;
  const count = Number(countText);
  const logger = createActionLogger({ store: new AwayStore(), spool: { dir: dir! }, retryDelayMs: 10, maxRetryDelayMs: 50, onError });
  for (let i = 0; i < count; i++) {
    await logger.run({ requestUuid: `${prefix}-${i}` }, () => logger.record({ action: 'tick' }));
    await sleep(1);
  }
  for (;;) {
    const s = logger.stats();
    if ((s.spool?.spooled ?? 0) + s.dropped >= count) break;
    await sleep(5);
  }
  console.log(JSON.stringify({ pid: process.pid, stats: logger.stats(), errors }));
  setInterval(() => {}, 1000);
} else if (scenario === 'enospc') {
  const [dir, filler] = args;
  const logger = createActionLogger({ store: new AwayStore(), spool: { dir: dir! }, retryDelayMs: 10, maxRetryDelayMs: 50, onError });
  const pad = 'x'.repeat(400);
  let i = 0;
  const one = async () => {
    await logger.run({ requestUuid: `disk-${i++}`, metadata: { pad } }, () => logger.record({ action: 'tick' }));
    await sleep(2);
  };
  while (logger.stats().dropped === 0 && i < 5000) await one();
  unlinkSync(filler!);
  for (let k = 0; k < 20; k++) await one();
  while (logger.stats().spool!.spooled + logger.stats().dropped < i) await sleep(5);
  console.log(JSON.stringify({ pid: process.pid, recorded: i, stats: logger.stats(), errors }));
  process.kill(process.pid, 'SIGKILL');
} else if (scenario === 'replay') {
  const [dir] = args;
  const store = new MemoryStore();
  const logger = createActionLogger({ store, spool: { dir: dir! }, onError });
  await logger.flush();
  const { spool } = logger.stats();
  await logger.close();
  console.log(JSON.stringify({ stored: store.requests().map((r) => r.request_uuid), torn: spool?.torn, errors }));
} else throw new Error(`unknown scenario ${scenario}`);
