/**
 * A process that records actions for mongo-tail.test.ts: `tsx tail-writer.ts <uri> <dbName> <name> <count>` records
 * `<name>_0` … `<name>_<count - 1>`, one request each, flushed a few at a time. It says it is ready in the `gate`
 * collection and starts when the test puts `go` there, so that the writers write at the same time.
 */
import { MongoClient } from 'mongodb';
// Only the logger and the MongoDB store, not the whole package: this process loads no other store.
import { createActionLogger } from '../../../src/logger.js';
import { MongoStore } from '../../../src/stores/mongo/mongo-store.js';

const [uri, dbName, name, count] = process.argv.slice(2);
if (!uri || !dbName || !name || !count) throw new Error('usage: tail-writer <uri> <dbName> <name> <count>');
const client = await MongoClient.connect(uri);
const logger = createActionLogger({ store: new MongoStore({ client, dbName }), flushIntervalMs: 0 });
const gate = client.db(dbName).collection<{ _id: string }>('gate');
await gate.insertOne({ _id: `ready-${name}` });
while (!(await gate.findOne({ _id: 'go' }))) await new Promise((resolve) => setTimeout(resolve, 20));
for (let i = 0; i < Number(count); i++) {
  await logger.run({}, () => {
    logger.record({ action: `${name}_${i}` });
  });
  if (i % 7 === 0) await logger.flush();
}
await logger.close();
await client.close();
