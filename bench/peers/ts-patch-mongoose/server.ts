/** The Mongoose endpoint with ts-patch-mongoose (its history collection on the same connection), or without audit. */
import { AsyncLocalStorage } from 'node:async_hooks';
import mongoose from 'mongoose';
import { patchHistoryPlugin } from 'ts-patch-mongoose';
import { serveOrders } from '../../servers/express-mongoose-app.js';

// Its README's way to know the user: a request context the app keeps (here the same ALS actionlog uses).
const requestContext = new AsyncLocalStorage<{ user: { id: string; name: string } }>();

await serveOrders(mongoose, () => {
  if (process.env.BENCH_MODE !== 'ts-patch-mongoose') return {};
  return {
    plugin: (schema) =>
      schema.plugin(patchHistoryPlugin, {
        eventCreated: 'order-created',
        eventUpdated: 'order-updated',
        eventDeleted: 'order-deleted',
        getUser: async () => requestContext.getStore()?.user,
      }),
    middleware: (_req, _res, next) => requestContext.run({ user: { id: 'u1', name: 'Ada' } }, next),
  };
});
