/** The test harness's MongoDB in a process of its own, for benchmarks. Prints `URI <uri>` and what it is. */
import { startMongo } from '../../examples/shared/databases/mongodb.js';

const mongo = await startMongo();
console.log(`MONGO ${mongo.description}`);
console.log(`URI ${mongo.uri}`);
process.on('SIGTERM', () => void mongo.stop().then(() => process.exit(0)));
