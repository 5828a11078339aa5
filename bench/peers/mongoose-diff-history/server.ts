/** The Mongoose endpoint on Mongoose 8 with mongoose-diff-history, or without audit. */
import mongoose from 'mongoose';
import diffHistory from 'mongoose-diff-history/diffHistory.js';
import { serveOrders } from '../../servers/express-mongoose-app.js';

const user = { id: 'u1', name: 'Ada' };

await serveOrders(mongoose, () => {
  if (process.env.BENCH_MODE !== 'mongoose-diff-history') return {};
  // It has no request context: the user travels with each write (`__user`), as its README shows.
  return {
    plugin: (schema) => schema.plugin(diffHistory.plugin),
    updateOptions: () => ({ __user: user }),
    beforeSave: (doc: Record<string, unknown>) => (doc.__user = user),
  };
});
