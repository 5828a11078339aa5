/**
 * A server process of the shutdown and crash tests (run with tsx): Express with the actionlog middleware, storing
 * into a SQLite file, with `installShutdownHandlers`. `POST /orders/:id` records an action and answers 201. Tells the
 * parent (its IPC channel) its URL once it listens.
 * Arguments: the SQLite file, then `own-handler` (the app has a SIGTERM handler of its own, which closes the server
 * and lets the process end) or `no-handler` (the shutdown handlers stop the server themselves), then optionally a
 * spool folder (option `spool`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DataSource } from 'typeorm';
import { createActionLogger, SqlStore } from 'actionlog';
import { actionLog } from 'actionlog/express';

const [file, mode, spoolDir] = process.argv.slice(2);
if (!file || (mode !== 'own-handler' && mode !== 'no-handler'))
  throw new Error('usage: shutdown-server <sqlite file> <own-handler|no-handler>');

const dataSource = new DataSource({ type: 'better-sqlite3', database: file, enableWAL: true });
await dataSource.initialize();
// The default interval: at the signal, up to a second of documents waits in the queue.
const logger = createActionLogger({
  store: new SqlStore({ dataSource }),
  ...(spoolDir ? { spool: { dir: spoolDir } } : {}),
  onError: (error) => {
    console.error(`actionlog: ${error.message}`);
  },
});
await logger.ready();

const app = express();
app.use(actionLog(logger));
app.post('/orders/:id', (req, res) => {
  logger.record({ action: 'order_placed', target: { type: 'order', id: req.params.id } });
  // A little work, so that requests are in flight when the signal comes.
  setTimeout(() => res.status(201).json({ id: req.params.id }), 2);
});
const server = createServer(app);
server.keepAliveTimeout = 60_000;

if (mode === 'own-handler') {
  // Registered first: the application's own shutdown, which must still run.
  process.on('SIGTERM', () => {
    console.log('app handler ran');
    server.close();
  });
  logger.installShutdownHandlers({ timeout: 5000 });
} else {
  logger.installShutdownHandlers({ timeout: 5000, servers: [server] });
}

server.listen(0, '127.0.0.1', () => {
  // Then let go of the channel: it would keep the process alive once the server is closed.
  process.send!(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => {
    process.disconnect();
  });
});
