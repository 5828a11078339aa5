/**
 * A writer process of the latest-action tests (run with tsx): records `count` actions of a few (actor, type) pairs
 * at the times `latestTimes(writer, count)` gives (out of order, interleaved with the other writers'), through a
 * logger of its own on the given database, then closes. It starts when the parent (its IPC channel) says so.
 * Arguments: `postgres <url>`, `sqlite <file>` or `mongodb <uri>`, the writer's number, the count (and for MongoDB the
 * database's name).
 */
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
// The modules themselves rather than the package's entry, so that a process starts with only what it runs.
import { createActionLogger } from '../../src/logger.js';
import { MongoStore } from '../../src/stores/mongo/mongo-store.js';
import { SqlStore } from '../../src/stores/sql/sql-store.js';
import type { Store } from '../../src/stores/store.js';
import { latestPair, latestTime } from './latest-times.js';

const [kind, address, writerText, countText, dbName] = process.argv.slice(2);
if (!kind || !address || !writerText || !countText)
  throw new Error('usage: latest-writer <postgres|sqlite|mongodb> <address> <writer> <count>');
const writer = Number(writerText);

let store: Store;
let release: () => Promise<void>;
if (kind === 'mongodb') {
  const client = await MongoClient.connect(address);
  store = new MongoStore({ client, dbName });
  release = () => client.close();
} else {
  const dataSource = new DataSource(
    kind === 'postgres' ? { type: 'postgres', url: address } : { type: 'better-sqlite3', database: address, enableWAL: true },
  );
  await dataSource.initialize();
  store = new SqlStore({ dataSource });
  release = () => dataSource.destroy();
}
const logger = createActionLogger({
  store,
  flushIntervalMs: 0,
  batchSize: 5,
  latestActions: true,
  onError: (error) => {
    console.error(error);
    process.exitCode = 1;
  },
});
await logger.ready();
await new Promise((resolve) => {
  process.once('message', resolve);
  process.send!('ready');
});
for (let i = 0; i < Number(countText); i++) {
  const [actor, type] = latestPair(i);
  await logger.run({}, () => logger.record({ action: type, actor, emitted_at: latestTime(writer, i), note: `${writer}:${i}` }));
  if (i % 4 === 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
}
await logger.close();
await release();
process.disconnect();
