/**
 * A writer process of the tail tests (run with tsx): records `count` actions, one request each, noted
 * `<writer>:<i>`, through a logger of its own on the given database, then closes. It starts writing when the
 * parent (its IPC channel) says so.
 * Arguments: `postgres <url>` or `sqlite <file>`, the writer's name, the count.
 */
import { DataSource } from 'typeorm';
// The modules themselves rather than the package's entry, so that a process starts with only what it runs.
import { createActionLogger } from '../../src/logger.js';
import { SqlStore } from '../../src/stores/sql/sql-store.js';

const [type, database, writer, countText] = process.argv.slice(2);
if (!type || !database || !writer || !countText) throw new Error('usage: tail-writer <postgres|sqlite> <url|file> <writer> <count>');

const dataSource = new DataSource(
  type === 'postgres' ? { type: 'postgres', url: database } : { type: 'better-sqlite3', database, enableWAL: true },
);
await dataSource.initialize();
const store = new SqlStore({ dataSource });
await store.init();
const logger = createActionLogger({
  store,
  flushIntervalMs: 0,
  onError: (error) => {
    console.error(error);
    process.exitCode = 1;
  },
});
// Ready: the parent starts every writer at once.
await new Promise((resolve) => {
  process.once('message', resolve);
  process.send!('ready');
});
for (let i = 0; i < Number(countText); i++) {
  await logger.run({}, () => logger.record({ action: 'tick', note: `${writer}:${i}` }));
  // Irregular pauses, so that the two writers' batches interleave in varied ways.
  if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
}
await logger.close();
await dataSource.destroy();
process.disconnect();
