/**
 * A process of the MongoStore tests (run with tsx), each step in a process of its own, as after a restart:
 * `spool <dir> <userHex>` records a run of that user (a model change and an activity) while its store is away and
 * exits with them left in the spool; `adopt <dir> <uri> <dbName>` stores that spool into the database and prints
 * its spool counters. A fresh process has met no ObjectId of the driver's before its store starts.
 */
import { MongoClient, ObjectId } from 'mongodb';
import { createActionLogger } from '../../src/logger.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { MongoStore } from '../../src/stores/mongo/mongo-store.js';
import type { StoreBatch } from '../../src/shared/document.js';
import { orderChange } from '../../examples/shared/orders.js';

class AwayStore extends MemoryStore {
  override async ping(): Promise<void> {
    throw new Error('connection refused');
  }

  override async write(_batch: StoreBatch): Promise<void> {
    throw new Error('connection refused');
  }
}

const [step, dir, ...rest] = process.argv.slice(2);
if (step === 'spool' && dir && rest[0]) {
  const logger = createActionLogger({ store: new AwayStore(), spool: { dir }, retryDelayMs: 1, maxRetryDelayMs: 5, onError: () => {} });
  await logger.run({ user: { _id: new ObjectId(rest[0]), name: 'Ada' } }, () => {
    logger.recordModelChange(orderChange('1'));
    logger.activity({ action: 'Logged in' });
  });
  process.stdout.write(JSON.stringify(await logger.close({ timeout: 50 })));
} else if (step === 'adopt' && dir && rest[0] && rest[1]) {
  const client = await MongoClient.connect(rest[0]);
  const logger = createActionLogger({ store: new MongoStore({ client, dbName: rest[1] }), spool: { dir } });
  await logger.flush();
  const { spool } = logger.stats();
  await logger.close();
  await client.close();
  process.stdout.write(JSON.stringify(spool));
} else throw new Error('usage: mongo-spool-replay spool <dir> <userHex> | adopt <dir> <uri> <dbName>');
