/** The Mongoose endpoint on the project's Mongoose: no audit (baseline), or actionlog writing to MongoStore on the same connection. */
import mongoose from 'mongoose';
import { createActionLogger, MongoStore } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { actionLogPlugin } from 'actionlog/mongoose';
import { serveOrders } from './express-mongoose-app.js';

await serveOrders(mongoose, () => {
  const mode = process.env.BENCH_MODE;
  if (mode !== 'actionlog' && mode !== 'actionlog-http-only') return {};
  const logger = createActionLogger({ store: new MongoStore({ connection: mongoose.connection }) });
  // dist types name the core as the package, which the repo maps to src: same shape, different declarations.
  const middleware = actionLog(logger);
  // actionlog-http-only: the request document without the plugin, to tell the two costs apart.
  return mode === 'actionlog' ? { plugin: (schema) => schema.plugin(actionLogPlugin(logger)), middleware } : { middleware };
});
