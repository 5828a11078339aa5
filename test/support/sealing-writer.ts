/**
 * A writer process of the tamper-evidence tests (run with tsx): writes `count` runs, each with a model change, an
 * action and an activity, and every third a late action appended to its stored document, through a logger of its own that
 * seals with the Ed25519 key in `ACTIONLOG_TEST_KEY` (PEM); then closes. Starts when the parent says so.
 * Arguments: `postgres <url>`, `sqlite <file>` or `mongodb <uri> <dbName>`, then the count.
 */
import { createPrivateKey } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
// The modules themselves rather than the package's entry, so that a process starts with only what it runs.
import { createActionLogger } from '../../src/logger.js';
import { MongoStore } from '../../src/stores/mongo/mongo-store.js';
import { SqlStore } from '../../src/stores/sql/sql-store.js';
import type { Store } from '../../src/stores/store.js';

const args = process.argv.slice(2);
const [type, database] = args;
const count = Number(args.at(-1));
const pem = process.env.ACTIONLOG_TEST_KEY;
if (!type || !database || !pem || !Number.isInteger(count))
  throw new Error('usage: sealing-writer <postgres|sqlite|mongodb> <url|file> [dbName] <count>');

let store: Store;
let close: () => Promise<void>;
if (type === 'mongodb') {
  const client = await MongoClient.connect(database);
  store = new MongoStore({ db: client.db(args[2]) });
  close = () => client.close();
} else {
  const dataSource = new DataSource(
    type === 'postgres' ? { type: 'postgres', url: database } : { type: 'better-sqlite3', database, enableWAL: true },
  );
  await dataSource.initialize();
  store = new SqlStore({ dataSource });
  close = () => dataSource.destroy();
}
const logger = createActionLogger({
  store,
  flushIntervalMs: 5,
  integrity: { key: createPrivateKey(pem), checkpointEvery: 7 },
  onError: (error) => {
    console.error(error);
    process.exitCode = 1;
  },
});
await new Promise((resolve) => {
  process.once('message', resolve);
  process.send!('ready');
});
const late: Array<Promise<void>> = [];
for (let i = 0; i < count; i++) {
  await logger.run({ module: 'orders', user: { id: `u${i % 3}` } }, async () => {
    logger.recordModelChange({
      action: 'Updated',
      model: 'orders',
      model_class_name: 'Order',
      model_namespace: 'shop.orders',
      model_id: `o${i}`,
      old_object: { total: i, 'net.price': 1 },
      new_object: { total: i + 1, 'net.price': 2, at: new Date() },
    });
    logger.record({ action: 'checkout', target: { type: 'order', id: `o${i}` } });
    logger.activity({ user: { lookup_from: 'users', _id: `u${i % 3}`, label: 'Ada' }, action: `order ${i}` });
    if (i % 3 === 0) {
      late.push(
        // Once its request document is stored: an append of its own, whatever the writer's pace.
        new Promise((resolve) => setTimeout(resolve, 20))
          .then(() => logger.flush())
          .then(() => {
            logger.record({ action: 'late_note', note: `late ${i}` });
          }),
      );
    }
  });
  if (i % 4 === 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 6));
}
await Promise.all(late);
await logger.close();
await close();
process.disconnect();
