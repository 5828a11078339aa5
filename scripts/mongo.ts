/**
 * A MongoDB to try the Mongoose examples and your own experiments against, on a machine without one: the
 * in-repo wire-protocol server the tests use when no `mongod` is at hand. It keeps data in memory and answers
 * the commands actionlog and Mongoose use (transactions included), strictly: anything else is an error.
 *
 *   npm run mongo              on port 27017
 *   npm run mongo -- 27018     on another port
 */
import { MongoWireServer } from '../examples/shared/databases/mongo-wire/server.js';

const port = Number(process.argv[2] ?? 27017);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`npm run mongo -- <port>: ${process.argv[2] ?? ''} is not a port`);
  process.exit(2);
}
const server = new MongoWireServer();
const uri = await server.start(port);
console.log(`In-memory MongoDB test server listening.\n  MONGODB_URI=${uri}\nCtrl-C stops it.`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.stop().then(() => process.exit(0));
  });
}
