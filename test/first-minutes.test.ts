/**
 * The mistakes a new user makes in the first minutes, each caught with one clear message, or made to work.
 * One `describe` per numbered item of the issue that listed them.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import express, { type Request } from 'express';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ActionLogClosedError, ActionLogConfigError, createActionLogger, MemoryStore, MongoStore } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { actionLogPlugin } from 'actionlog/mongoose';
import { ActionLogSubscriber } from 'actionlog/typeorm';
import { DataSource } from 'typeorm';
import { Client } from './support/client.js';
import { FlakyStore } from './support/stores.js';
import { freshDatabaseName, mongoUri } from './support/mongo-db.js';
import { all } from './support/store-contract.js';
import { Customer } from './support/typeorm-entities.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const servers: Array<{ close(): unknown }> = [];
afterAll(() => {
  for (const server of servers) server.close();
});

async function listen(app: express.Express): Promise<Client> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

describe('1. a MongoStore made before mongoose.connect()', () => {
  it('takes the connection and writes once it opens', async () => {
    const connection = mongoose.createConnection();
    const store = new MongoStore({ connection });
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    connection.plugin(actionLogPlugin(logger));
    const Note = connection.model('Note', new mongoose.Schema({ text: String }));
    const saved = logger.run({ requestUuid: 'before-connect' }, () => Note.create({ text: 'hello' }));
    await connection.openUri(mongoUri(), { dbName: freshDatabaseName() });
    await saved;
    await logger.close();
    const [doc] = await all(store, 'requests', { request_uuid: 'before-connect' });
    expect(doc!.details.model_logs.map((m) => [m.model, m.action])).toEqual([['notes', 'Created']]);
    await connection.dropDatabase();
    await connection.close();
  });

  it('says "not connected yet" for db: undefined, with the fix', () => {
    const notYet = mongoose.createConnection();
    expect(() => new MongoStore({ db: notYet.db } as never)).toThrow(ActionLogConfigError);
    expect(() => new MongoStore({ db: notYet.db } as never)).toThrow(
      /db: is undefined: mongoose.connection.db is only set once connected; pass \{ connection: mongoose.connection \}/,
    );
  });
});

describe('4. an ActionLogSubscriber instance in the subscribers option', () => {
  it('records, where TypeORM alone would drop it', async () => {
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    const subscriber = new ActionLogSubscriber(logger);
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [Customer],
      synchronize: true,
      // TypeORM's types take classes; JavaScript lets an instance through, which TypeORM alone drops.
      subscribers: [subscriber as never],
    });
    await dataSource.initialize();
    // Once, however often the metadata is built.
    expect(dataSource.subscribers.filter((s) => s === subscriber)).toHaveLength(1);
    await logger.run({ requestUuid: 'instance' }, () => dataSource.getRepository(Customer).save({ name: 'Ada' }));
    await logger.close();
    await dataSource.destroy();
    const [doc] = await all(store, 'requests', { request_uuid: 'instance' });
    expect(doc!.details.model_logs.map((m) => [m.model, m.action, m.model_details.new_object])).toEqual([
      ['customers', 'Created', { id: 1, name: 'Ada', apiToken: null }],
    ]);
  });
});

describe('5. silent mistakes', () => {
  it('reports an Express middleware mounted after the routes, naming them, once', async () => {
    const errors: Error[] = [];
    const logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0, onError: (e) => errors.push(e) });
    const app = express();
    app.get('/orders', (_req, res) => {
      logger.record({ action: 'list' });
      res.json([]);
    });
    app.use(actionLog(logger));
    app.use((_req, res) => {
      res.status(404).end();
    });
    const client = await listen(app);
    await client.send('/orders');
    await client.send('/missing');
    await client.send('/orders');
    client.agent.destroy();
    await logger.close();
    expect(errors.map((e) => e.message)).toEqual([
      'a change was recorded outside any request, though an HTTP middleware is mounted: mount it before the routes ' +
        '(and wrap jobs in logger.run()); it is stored as a document of its own. Set outsideContext to silence this.',
      'Invalid actionlog Express setup: middleware: mounted after GET /orders: those requests are not captured; ' +
        'app.use(actionLog(logger)) before the routes',
    ]);
  });

  it('stays quiet when the middleware comes first, or when outsideContext was chosen', async () => {
    const errors: Error[] = [];
    const logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0, onError: (e) => errors.push(e) });
    const app = express();
    app.use(actionLog(logger));
    app.get('/orders', (_req, res) => {
      logger.record({ action: 'list' });
      res.json([]);
    });
    const client = await listen(app);
    await client.send('/orders');
    client.agent.destroy();
    const chosen = createActionLogger({ store: new MemoryStore(), outsideContext: 'standalone', onError: (e) => errors.push(e) });
    actionLog(chosen);
    chosen.record({ action: 'seeded' });
    await Promise.all([logger.close(), chosen.close()]);
    expect(errors).toEqual([]);
  });

  it('reports a Mongoose plugin registered after a model compiled, naming the model', async () => {
    const errors: Error[] = [];
    const logger = createActionLogger({ store: new MemoryStore(), onError: (e) => errors.push(e) });
    mongoose.model('LateInvoice', new mongoose.Schema({ total: Number }));
    const early = actionLogPlugin(logger);
    mongoose.model('EarlyInvoice', new mongoose.Schema({ total: Number }).plugin(early));
    const late = actionLogPlugin(logger);
    mongoose.plugin(late);
    try {
      // Checked once the code that registered it has run.
      await new Promise((resolve) => setImmediate(resolve));
      expect(errors.map((e) => [e.constructor, e.message])).toEqual([
        [
          ActionLogConfigError,
          expect.stringMatching(
            // Other test files of this process may have left models on the global connection too.
            /^Invalid actionlog Mongoose setup: actionLogPlugin: registered after (\w+, )*LateInvoice(, \w+)* compiled: .*mongoose\.plugin\(actionLogPlugin\(logger\)\) before mongoose\.model\(\)/,
          ),
        ],
      ]);
      expect(errors[0]!.message).not.toContain('EarlyInvoice');
    } finally {
      mongoose.deleteModel(/^(Late|Early)Invoice$/);
      // Mongoose's global plugin list (not in its typings): the test leaves it as it found it.
      const plugins = (mongoose as unknown as { plugins: Array<[unknown, unknown]> }).plugins;
      plugins.splice(
        plugins.findIndex(([fn]) => fn === late),
        1,
      );
      mongoose.deleteModel(/Invoice$/);
      await logger.close();
    }
  });

  it('says at exit how many documents process.exit() left unstored', async () => {
    const script = `
      import { createActionLogger, MemoryStore } from ${JSON.stringify(`${root}src/index.ts`)};
      const logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 60_000 });
      for (let i = 0; i < 3; i++) logger.record({ action: 'import' });
      process.exit(0);
    `;
    const tsx = `${root}node_modules/.bin/tsx`;
    const { stderr } = await promisify(execFile)(tsx, ['--eval', script], { cwd: root });
    expect(stderr).toContain('[actionlog] the process exits with 3 documents not stored: await logger.close() before process.exit()');
  });
});

describe('6. option errors', () => {
  it('are worded one way everywhere, with the nearest known name', () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    expect(() => actionLogPlugin(logger, { exlude: [] } as never)).toThrow(
      'Invalid actionlog actionLogPlugin options: exlude: unknown field (did you mean "exclude"?)',
    );
    expect(() => createActionLogger({ store: new MemoryStore(), flushInterval: 5 } as never)).toThrow(
      'Invalid actionlog options: flushInterval: unknown field (did you mean "flushIntervalMs"?)',
    );
    expect(() => createActionLogger({ store: new MemoryStore(), limits: { maxDept: 5 } } as never)).toThrow(
      'Invalid actionlog options: limits.maxDept: unknown field (did you mean "maxDepth"?)',
    );
    expect(() => actionLog(logger, { captureHeader: false } as never)).toThrow(
      'Invalid actionlog middleware options: captureHeader: unknown field (did you mean "captureHeaders"?)',
    );
    expect(() => logger.record({ action: { type: 'x', categroy: 'y' } } as never)).toThrow(
      'Invalid action: action.categroy: unknown field (did you mean "category"?)',
    );
    // Nothing near: no guess.
    expect(() => createActionLogger({ store: new MemoryStore(), colour: 1 } as never)).toThrow(/colour: unknown field$/);
  });
});

describe('7. after close()', () => {
  it('run() rejects as record() throws, without running the job', async () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    await logger.close();
    let ran = false;
    expect(() => logger.record({ action: 'late' })).toThrow(ActionLogClosedError);
    await expect(
      logger.run({}, () => {
        ran = true;
      }),
    ).rejects.toThrow(ActionLogClosedError);
    expect(ran).toBe(false);
  });
});

describe('8. a field omitted from a model', () => {
  it('is kept out of request bodies too, by name, at any depth and in forms', async () => {
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    actionLogPlugin(logger, { omit: { Card: ['profile.nickname'] } });
    const app = express();
    app.use(actionLog(logger));
    app.use(express.json(), express.urlencoded({ extended: false }));
    app.post('/cards', (_req, res) => {
      res.status(201).end();
    });
    const client = await listen(app);
    await client.send('/cards', { method: 'POST', body: { holder: 'Ada', nickname: 'ace', nested: { nickname: 'a' } } });
    await client.send('/cards', {
      method: 'POST',
      body: 'holder=Bo&nickname=bb',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    client.agent.destroy();
    await logger.close();
    const bodies = store.requests().map((d) => d.details.request?.body);
    expect(bodies).toEqual([{ holder: 'Ada', nested: {} }, { holder: 'Bo' }]);
  });
});

describe('9. details', () => {
  it('types the request in middleware options as the app does', () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    // `req` is Express's own Request here: its methods type-check (a compile-time test, run by tsc).
    const middleware = actionLog<Request>(logger, { user: (req) => req.get('x-user'), skip: (req) => req.path === '/health' });
    expect(middleware).toBeTypeOf('function');
  });

  it('reports a retry on the console in one sentence, its cause in parentheses', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const store = new FlakyStore();
    // Down for two attempts: the ping in between fails too, so the writer backs off and says so.
    store.failNext(2);
    const logger = createActionLogger({ store, flushIntervalMs: 0, retryDelayMs: 1 });
    logger.record({ action: 'x' });
    await logger.close();
    expect(warn.mock.calls[0]).toEqual(['[actionlog] Store write failed (attempt 1), retrying (store unavailable)']);
    warn.mockRestore();
  });
});
