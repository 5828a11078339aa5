/** The Mongoose endpoint on the project's Mongoose: no audit (baseline), or actionlog writing to MongoStore on the same connection. */
import mongoose from 'mongoose';
import { createActionLogger, MongoStore } from '../../dist/index.js';
import { actionLog } from '../../dist/express.js';
import { actionLogPlugin } from '../../dist/mongoose.js';
import { serveOrders } from './express-mongoose-app.js';

await serveOrders(mongoose, () => {
  if (process.env.BENCH_MODE !== 'actionlog') return {};
  const logger = createActionLogger({ store: new MongoStore({ db: mongoose.connection.db! }) });
  // dist types name the core as the package, which the repo maps to src: same shape, different declarations.
  return { plugin: (schema) => schema.plugin(actionLogPlugin(logger as never)), middleware: actionLog(logger as never) as never };
});
