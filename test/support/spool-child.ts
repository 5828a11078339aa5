/**
 * A process of the spool tests (run with tsx): records `count` runs (`child-<i>`) through a logger with a spool in
 * `dir` whose store never answers, tells the parent (IPC) once all are spooled, then waits to be killed.
 * Arguments: the spool folder, the count.
 */
// The modules themselves rather than the package's entry, so that a process starts with only what it runs.
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

const [dir, countText] = process.argv.slice(2);
if (!dir || !countText) throw new Error('usage: spool-child <dir> <count>');
const count = Number(countText);
const logger = createActionLogger({ store: new AwayStore(), spool: { dir }, retryDelayMs: 10, maxRetryDelayMs: 50, onError: () => {} });
for (let i = 0; i < count; i++) await logger.run({ requestUuid: `child-${i}` }, () => logger.record({ action: 'tick' }));
while (logger.stats().spool?.spooled !== count) await new Promise((resolve) => setTimeout(resolve, 5));
process.send?.('spooled');
setInterval(() => {}, 1000);
