/**
 * The HTTP capture where frameworks meet it at their edges: a held response answered twice or streamed with a
 * declared length, Koa's error responses, routes of nested routers and regular expressions, the middleware mounted
 * twice.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type StoreBatch } from 'actionlog';
import type { HttpOptions } from 'actionlog/adapter-kit';
import { actionLog } from 'actionlog/express';
import { actionLogPlugin } from 'actionlog/fastify';
import { actionLog as koaActionLog, type KoaContext } from 'actionlog/koa';
import { HttpError, type RunningApp, startApp } from '../support/apps.js';
import { Client } from '../support/client.js';
import { FlakyStore } from '../support/stores.js';

/** A store that takes a little time per write, as any real database does. */
class SlowStore extends MemoryStore {
  override async write(batch: StoreBatch): Promise<void> {
    await sleep(20);
    await super.write(batch);
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}

/** Unhandled rejections and uncaught exceptions raised while `fn` runs (and shortly after). */
async function crashesDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onError = (error: unknown) => seen.push(error);
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  try {
    await fn();
    await sleep(100);
  } finally {
    process.off('unhandledRejection', onError);
    process.off('uncaughtException', onError);
  }
  return seen;
}

const cleanups: Array<() => unknown> = [];

/** Serves `app` on a port of its own; after the test, the server stops and `loggers` close. */
async function serve(app: Parameters<typeof createServer>[1], ...loggers: ActionLogger[]): Promise<string> {
  const server = createServer(app);
  const url = await listen(server);
  cleanups.push(...loggers.map((logger) => () => logger.close()), () => stop(server));
  return url;
}
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('failure policy "throw": the held response', () => {
  it('fastify: an async handler answering with reply.send() and returning nothing gets its body, without crashing the process', async () => {
    // Fastify's documented form ("do not return any value, call reply.send"). While the end is held, reply.sent
    // (res.writableEnded) is false, so Fastify sends the reply a second time (empty, changing the headers object it
    // gave the first writeHead) when the handler's promise resolves: the first answer is what goes out, once.
    const store = new SlowStore();
    const logger = createActionLogger({ store, onStoreError: 'throw', onError: () => {} });
    const app = Fastify();
    await app.register(actionLogPlugin, { logger });
    app.post('/orders/:id', async (req, reply) => {
      logger.record({ action: 'order_placed', target: { type: 'order', id: (req.params as { id: string }).id } });
      reply.code(201).send({ id: (req.params as { id: string }).id });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(
      () => logger.close(),
      () => app.close(),
    );
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    let status = 0;
    let body = '';
    const crashes = await crashesDuring(async () => {
      const reply = await fetch(`${url}/orders/7`, { method: 'POST' });
      status = reply.status;
      body = await reply.text();
    });
    expect({ status, body, crashes: crashes.map(String) }).toEqual({ status: 201, body: '{"id":"7"}', crashes: [] });
  });

  it.each([
    ['a file of one chunk', 1, 'cut'],
    ['a file of several chunks', 20_000, 'cut'],
  ])(
    'express: a streamed response with a Content-Length (res.sendFile, %s) whose document cannot be stored is not received whole, as a success',
    async (_, copies, expected) => {
      // README: "A response that was already streaming is cut, so that the client never takes it for a success."
      // The last byte of the declared length waits with the end: the client gets a body short of its length.
      const dir = mkdtempSync(join(tmpdir(), 'actionlog-sendfile-'));
      const file = join(dir, 'report.txt');
      writeFileSync(file, 'the whole quarterly report'.repeat(copies));
      const store = new FlakyStore();
      const logger = createActionLogger({ store, onStoreError: 'throw', retryDelayMs: 1, onError: () => {} });
      const app = express();
      app.use(actionLog(logger));
      app.get('/report', (_req, res) => {
        logger.record({ action: 'report_downloaded' });
        res.sendFile(file);
      });
      cleanups.push(() => {
        rmSync(dir, { recursive: true, force: true });
      });
      const url = await serve(app, logger);

      store.failNext(1);
      const reply = await fetch(`${url}/report`);
      const received = await reply.text().then(
        (text) => `complete ${reply.status}: ${text}`,
        () => 'cut',
      );
      await logger.flush();
      const [doc] = store.requests();
      // What the client got, and what the trail says it got.
      expect(received).toBe(expected);
      expect(doc!.details.response!.status_code).toBe(500);
    },
  );

  it.each(['throw', 'spool'] as const)(
    'express (%s): an error handler that follows the Express guide (res.headersSent) does not replace the answer already given',
    async (policy) => {
      // The handler answers 201, then a follow-up step fails and goes to next(err). Express's guide: an error
      // handler delegates when res.headersSent. During the hold res.headersSent is false, so the handler answers
      // 500 (its status and headers on the same response): the first answer, as the trail has it, goes out.
      const dir = mkdtempSync(join(tmpdir(), 'actionlog-held-'));
      const store = new SlowStore();
      const logger = createActionLogger({
        store,
        ...(policy === 'spool' ? { spool: { dir } } : { onStoreError: 'throw' as const }),
        onError: () => {},
      });
      const app = express();
      app.use(actionLog(logger));
      app.post('/orders/:id', (req, res, next) => {
        logger.record({ action: 'order_placed', target: { type: 'order', id: req.params.id } });
        res.status(201).json({ id: req.params.id });
        next(new Error('confirmation e-mail failed'));
      });
      app.use((err: Error, _req: express.Request, res: express.Response, next: express.NextFunction) => {
        if (res.headersSent) {
          next(err);
          return;
        }
        res.status(500).json({ error: err.message });
      });
      cleanups.push(() => {
        rmSync(dir, { recursive: true, force: true });
      });
      const url = await serve(app, logger);

      const reply = await fetch(`${url}/orders/7`, { method: 'POST' });
      const got = { status: reply.status, body: await reply.text() };
      await logger.flush();
      const [doc] = store.requests();
      expect(got).toEqual({ status: 201, body: '{"id":"7"}' });
      expect(doc!.details.response!.status_code).toBe(got.status);
    },
  );
});

describe('request ids', () => {
  let app: RunningApp | undefined;
  let client: Client | undefined;
  let logger: ActionLogger | undefined;
  afterEach(async () => {
    client?.close();
    await app?.close();
    await logger?.close();
    app = client = logger = undefined;
  });

  it('koa: an error response echoes X-Request-Id, as every other response (and every framework) does', async () => {
    // Koa's ctx.onerror removes every header set so far (res.getHeaderNames().forEach(removeHeader)), then sets the
    // error's own `headers`.
    const store = new MemoryStore();
    logger = createActionLogger({ store });
    app = await startApp('koa', {
      logger,
      routes: {
        'POST /orders/:id': async () => {
          throw new HttpError(409, 'already placed');
        },
      },
    });
    client = new Client(app.url);
    const reply = await client.send('/orders/7', { method: 'POST', body: {} });
    await logger.flush();
    const [doc] = store.requests();
    expect(reply.status).toBe(409);
    expect(reply.headers['x-request-id']).toBe(doc!.request_uuid);
  });
});

describe('the route and module of a request', () => {
  it('express4: a regular-expression route gives a module that is a word of the route, not a piece of the regex', async () => {
    // The route is the RegExp's text, /^\/orders\/(\d+)$/: its first literal segment is the module.
    const store = new MemoryStore();
    const logger = createActionLogger({ store });
    const app = express4();
    app.use(actionLog(logger));
    app.get(/^\/orders\/(\d+)$/, (_req, res) => {
      res.json({});
    });
    const url = await serve(app, logger);

    await fetch(`${url}/orders/7`).then((r) => r.text());
    await logger.flush();
    expect(store.requests()[0]!.module).toBe('orders');
  });
});

describe('the middleware mounted a second time', () => {
  it('express: a router-level mount joins the scope the app-level one opened: one document, the inner module', async () => {
    // An app-wide mount plus a router-level one with its own module option: what the auth step recorded before the
    // second mount is in the same document as the route's action.
    const store = new MemoryStore();
    const errors: Error[] = [];
    const logger = createActionLogger({ store, onError: (e) => errors.push(e) });
    const app = express();
    app.use(actionLog(logger));
    app.use((_req, _res, next) => {
      logger.record({ action: 'signed_in' });
      next();
    });
    const admin = express.Router();
    admin.use(actionLog(logger, { module: 'admin' }));
    admin.post('/purge', (_req, res) => {
      logger.record({ action: 'purge' });
      res.json({});
    });
    app.use('/admin', admin);
    const url = await serve(app, logger);

    await fetch(`${url}/admin/purge`, { method: 'POST' }).then((r) => r.text());
    await logger.flush();
    const docs = store.requests();
    expect(docs.map((d) => ({ module: d.module, actions: d.details.actions.map((a) => a.action_type) }))).toEqual([
      { module: 'admin', actions: ['signed_in', 'purge'] },
    ]);
    expect(errors).toEqual([]);
  });
});

describe('held responses answered again, Koa errors shared by requests, mounts that join a scope', () => {
  /** Reads a whole response, or says it did not come within `ms`. */
  async function answerWithin(url: string, init: RequestInit, ms: number) {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, ms);
    try {
      const reply = await fetch(url, { ...init, signal: controller.signal });
      return { status: reply.status, statusText: reply.statusText, body: await reply.text() };
    } catch {
      return 'no answer';
    } finally {
      clearTimeout(timer);
    }
  }

  async function expressApp(policy: 'throw' | 'spool', build: (app: express.Express, logger: ActionLogger) => void) {
    const dir = mkdtempSync(join(tmpdir(), 'actionlog-held-again-'));
    const store = new SlowStore();
    const logger = createActionLogger({
      store,
      ...(policy === 'spool' ? { spool: { dir } } : { onStoreError: 'throw' as const }),
      onError: () => {},
    });
    const app = express();
    app.use(actionLog(logger));
    build(app, logger);
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const url = await serve(app, logger);
    return { url, store, logger, dir };
  }

  it.each(['throw'] as const)(
    'express (%s): an answer followed by next(err) to the default final handler keeps its own reason phrase',
    async (policy) => {
      // finalhandler sees res.headersSent false during the hold and sets res.statusMessage with its 500: the first
      // answer's reason phrase is put back with its status.
      const { url } = await expressApp(policy, (app) => {
        app.get('/orders/:id', (req, res, next) => {
          res.status(201).json({ id: req.params.id });
          next(new Error('confirmation e-mail failed'));
        });
        app.set('env', 'test');
      });
      const got = await answerWithin(`${url}/orders/7`, {}, 2000);
      expect(got).toEqual({ status: 201, statusText: 'Created', body: '{"id":"7"}' });
    },
  );

  it('express (spool): an error handler answering with writeHead/end (Node style) does not replace the first status', async () => {
    // The second answer's writeHead goes nowhere while the first waits for the spool: the client gets the 201 the
    // trail shows.
    const { url } = await expressApp('spool', (app) => {
      app.post('/orders/:id', (req, res, next) => {
        res.status(201).json({ id: req.params.id });
        next(new Error('confirmation e-mail failed'));
      });
      app.use((_err: Error, _req: express.Request, res: express.Response, next: express.NextFunction) => {
        if (res.headersSent) {
          next(_err);
          return;
        }
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('oops');
      });
    });
    const got = await answerWithin(`${url}/orders/7`, { method: 'POST' }, 2000);
    expect(got).toEqual({ status: 201, statusText: 'Created', body: '{"id":"7"}' });
  });

  it('express (throw): a body of declared length that ends in the callback of its last write is answered', async () => {
    // Only the last byte of the Content-Length waits with the end: the write's callback runs, and the application
    // that ends the response once its last write is flushed does.
    const { url } = await expressApp('throw', (app) => {
      app.get('/report', (_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.setHeader('content-length', '5');
        res.write('hello', () => {
          res.end();
        });
      });
    });
    const got = await answerWithin(`${url}/report`, {}, 2000);
    expect(got).toEqual({ status: 200, statusText: 'OK', body: 'hello' });
  });

  it('express (throw): a body of declared length streamed by pipeline() from a generator with a trailing empty chunk is answered', async () => {
    // Writes after the Content-Length is complete (an empty one here) flow as usual: pipeline() ends the response.
    const { url } = await expressApp('throw', (app) => {
      app.get('/report', (_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.setHeader('content-length', '5');
        void pipeline(async function* () {
          yield 'hello';
          yield '';
        }, res);
      });
    });
    const got = await answerWithin(`${url}/report`, {}, 2000);
    expect(got).toEqual({ status: 200, statusText: 'OK', body: 'hello' });
  });

  it('koa: an error instance thrown by two requests carries each request its own X-Request-Id', async () => {
    // Koa answers from the error's own `headers` (an error kept in a module, a constant NotFound, thrown by every
    // request): each request's id is set again on its own response, not on the error.
    const store = new MemoryStore();
    const logger = createActionLogger({ store });
    const gone = new HttpError(410, 'gone');
    const app = await startApp('koa', {
      logger,
      routes: {
        'GET /old/:id': async () => {
          throw gone;
        },
      },
    });
    const client = new Client(app.url);
    cleanups.push(
      () => logger.close(),
      () => app.close(),
      () => {
        client.close();
      },
    );
    const first = await client.send('/old/1');
    const second = await client.send('/old/2');
    await logger.flush();
    const ids = store.requests().map((d) => d.request_uuid);
    expect([first.status, second.status]).toEqual([410, 410]);
    expect([first.headers['x-request-id'], second.headers['x-request-id']]).toEqual(ids);
  });

  it('express: the per-request route accessor leaves request objects with fast properties', async () => {
    // Nothing the middleware sets on a request (a getter/setter pair of its own, say) may turn request objects into
    // dictionary-mode objects (slow property access for the whole app).
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--allow-natives-syntax');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const fast = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
    v8.setFlagsFromString('--no-allow-natives-syntax');
    const logger = createActionLogger({ store: new MemoryStore() });
    const app = express();
    app.use(actionLog(logger));
    const seen: boolean[] = [];
    app.get('/orders/:id', (req, res) => {
      seen.push(fast(req));
      res.json({});
    });
    const url = await serve(app, logger);
    for (let i = 0; i < 3; i++) await fetch(`${url}/orders/${i}`).then((r) => r.text());
    expect(seen).toEqual([true, true, true]);
  });

  it('express: a router-level mount with a module function joins the scope with the inner module', async () => {
    // README: "Mounted again on a router, it joins the request's scope: one document, with the router's options".
    const store = new MemoryStore();
    const logger = createActionLogger({ store });
    const app = express();
    app.use(actionLog(logger));
    const admin = express.Router();
    admin.use(actionLog(logger, { module: () => 'administration' }));
    admin.post('/purge', (_req, res) => {
      res.json({});
    });
    app.use('/admin', admin);
    const url = await serve(app, logger);
    await fetch(`${url}/admin/purge`, { method: 'POST' }).then((r) => r.text());
    await logger.flush();
    expect(store.requests().map((d) => d.module)).toEqual(['administration']);
  });

  it("express: a router-level mount of another logger records that logger's document", async () => {
    // Another logger's mount opens a scope of its own (its store, its failure policy), current inside it.
    const appStore = new MemoryStore();
    const adminStore = new MemoryStore();
    const appLogger = createActionLogger({ store: appStore });
    const adminLogger = createActionLogger({ store: adminStore });
    const app = express();
    app.use(actionLog(appLogger));
    const admin = express.Router();
    admin.use(actionLog(adminLogger));
    admin.post('/purge', (_req, res) => {
      adminLogger.record({ action: 'purge' });
      res.json({});
    });
    app.use('/admin', admin);
    const url = await serve(app, appLogger, adminLogger);
    await fetch(`${url}/admin/purge`, { method: 'POST' }).then((r) => r.text());
    await Promise.all([appLogger.flush(), adminLogger.flush()]);
    expect(adminStore.requests().map((d) => d.details.actions.map((a) => a.action_type))).toEqual([['purge']]);
  });

  it('express: a router-level mount with captureBody: false keeps the bodies of its routes out of the trail', async () => {
    // A joined mount's options make the document: a sign-in router keeps its bodies out of the trail.
    const store = new MemoryStore();
    const logger = createActionLogger({ store });
    const app = express();
    app.use(actionLog(logger));
    app.use(express.json());
    const auth = express.Router();
    auth.use(actionLog(logger, { captureBody: false }));
    auth.post('/sign-in', (_req, res) => {
      res.json({ ok: true });
    });
    app.use('/auth', auth);
    const url = await serve(app, logger);
    await fetch(`${url}/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', password: 'hunter2' }),
    }).then((r) => r.text());
    await logger.flush();
    expect(store.requests().map((d) => d.details.request!.body)).toEqual([null]);
  });
});

describe('held bodies of declared length, callbacks of second answers, the scopes of several mounts', () => {
  /** The body the client takes as whole, or 'cut' when the response did not complete within `ms`. */
  async function bodyOf(url: string, init: RequestInit = {}, ms = 2000): Promise<string> {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, ms);
    try {
      const reply = await fetch(url, { ...init, signal: controller.signal });
      return `${reply.status} ${await reply.text()}`;
    } catch {
      return 'cut';
    } finally {
      clearTimeout(timer);
    }
  }

  /** An Express app under 'throw' whose store is down. */
  async function downApp(build: (app: express.Express) => void) {
    const store = new FlakyStore();
    store.failForever();
    const logger = createActionLogger({ store, onStoreError: 'throw', retryDelayMs: 1, onError: () => {} });
    const app = express();
    app.use(actionLog(logger));
    build(app);
    const url = await serve(app, logger);
    return url;
  }

  it('express (throw, store down): a Content-Length given in writeHead as a raw header array never makes a whole body', async () => {
    // Node takes writeHead(status, ['Content-Length', '5', ...]): a raw list declares the length too.
    const url = await downApp((app) => {
      app.get('/report', (_req, res) => {
        res.writeHead(200, ['Content-Length', '5', 'Content-Type', 'text/plain']);
        res.write('hello');
        res.end();
      });
    });
    expect(await bodyOf(`${url}/report`)).toBe('cut');
  });

  it('express (throw, store down): a body of declared length after flushHeaders() is never whole', async () => {
    // The head sent by flushHeaders() declares the length the later writes are counted against.
    const url = await downApp((app) => {
      app.get('/report', (_req, res) => {
        res.setHeader('content-length', '5');
        res.flushHeaders();
        res.write('hello');
        res.end();
      });
    });
    expect(await bodyOf(`${url}/report`)).toBe('cut');
  });

  it('express (throw): the end callback of an ignored second answer runs once the response is sent, as Node runs it', async () => {
    // Node runs end(cb) of a response already ended once it is done: so does the held response, for the ignored end.
    const seen: string[] = [];
    const store = new MemoryStore();
    const logger = createActionLogger({ store, onStoreError: 'throw', onError: () => {} });
    const app = express();
    app.use(actionLog(logger));
    app.get('/orders/:id', (req, res) => {
      res.status(201).json({ id: req.params.id });
      res.end(() => seen.push('second end callback'));
    });
    const url = await serve(app, logger);
    expect(await bodyOf(`${url}/orders/7`)).toBe('201 {"id":"7"}');
    await sleep(100);
    expect(seen).toEqual(['second end callback']);
  });

  it('express (throw, store down): the end callback of the answer runs when its 500 is sent', async () => {
    const seen: string[] = [];
    const store = new FlakyStore();
    const logger = createActionLogger({ store, onStoreError: 'throw', retryDelayMs: 1, onError: () => {} });
    const app = express();
    app.use(actionLog(logger));
    app.get('/orders/:id', (req, res) => {
      res.status(201).end(JSON.stringify({ id: req.params.id }), () => seen.push('end callback'));
    });
    const url = await serve(app, logger);
    store.failNext(1);
    expect(await bodyOf(`${url}/orders/7`)).toMatch(/^500 /);
    await sleep(100);
    expect(seen).toEqual(['end callback']);
  });

  it('express: a logger mounted on the app and again on a router, beside another logger, stores one document', async () => {
    // The router mount finds its own logger's scope, listed beside the other logger's: one document.
    const appStore = new MemoryStore();
    const adminStore = new MemoryStore();
    const appLogger = createActionLogger({ store: appStore });
    const adminLogger = createActionLogger({ store: adminStore });
    const app = express();
    app.use(actionLog(appLogger));
    app.use(actionLog(adminLogger));
    const admin = express.Router();
    admin.use(actionLog(adminLogger, { module: 'admin' }));
    admin.post('/purge', (_req, res) => {
      adminLogger.record({ action: 'purge' });
      res.json({});
    });
    app.use('/admin', admin);
    const url = await serve(app, appLogger, adminLogger);
    await fetch(`${url}/admin/purge`, { method: 'POST' }).then((r) => r.text());
    await Promise.all([appLogger.flush(), adminLogger.flush()]);
    expect(adminStore.requests().map((d) => d.details.actions.map((a) => a.action_type))).toEqual([['purge']]);
  });

  it("fastify: a second logger's plugin records its actions in its own document", async () => {
    // Each plugin's preValidation hook re-enters its own logger's scope (the second one is listed beside the first).
    const firstStore = new MemoryStore();
    const secondStore = new MemoryStore();
    const first = createActionLogger({ store: firstStore });
    const second = createActionLogger({ store: secondStore });
    const app = Fastify();
    await app.register(actionLogPlugin, { logger: first });
    await app.register(actionLogPlugin, { logger: second });
    app.post('/purge', async () => {
      second.record({ action: 'purge' });
      return {};
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(
      () => first.close(),
      () => second.close(),
      () => app.close(),
    );
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await fetch(`${url}/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.text());
    await Promise.all([first.flush(), second.flush()]);
    expect(secondStore.requests().map((d) => d.details.actions.map((a) => a.action_type))).toEqual([['purge']]);
    expect(firstStore.requests().map((d) => d.details.actions.map((a) => a.action_type))).toEqual([[]]);
  });

  it.each(['retry', 'throw'] as const)(
    'express (%s): the ESM middleware on the app and the CJS copy on a router, one logger: one document with every action',
    async (policy) => {
      // The marks a scope leaves on the response are registered symbols, shared by the package's copies (ESM, CJS).
      const cjs = createRequire(import.meta.url)('actionlog/express') as { actionLog: typeof actionLog };
      const store = new MemoryStore();
      const logger = createActionLogger({ store, onStoreError: policy, onError: () => {} });
      const app = express();
      app.use(actionLog(logger));
      app.use((_req, _res, next) => {
        logger.record({ action: 'seen' });
        next();
      });
      const admin = express.Router();
      admin.use(cjs.actionLog(logger, { module: 'admin' }));
      admin.post('/purge', (_req, res) => {
        logger.record({ action: 'purge' });
        res.json({});
      });
      app.use('/admin', admin);
      const url = await serve(app, logger);
      await fetch(`${url}/admin/purge`, { method: 'POST' }).then((r) => r.text());
      await logger.flush();
      expect(store.requests().map((d) => d.details.actions.map((a) => a.action_type))).toEqual([['seen', 'purge']]);
    },
  );
});

describe('koa: one error instance thrown by several requests', () => {
  /** A Koa 3 app with the middleware first (failure policy `policy`) and `route` after it; `errors`: what its 'error' event got. */
  async function koaApp(policy: 'retry' | 'throw' | 'spool', route: Koa.Middleware, options: HttpOptions<KoaContext> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'actionlog-koa-shared-error-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const store = new MemoryStore();
    const logger = createActionLogger({
      store,
      ...(policy === 'spool' ? { spool: { dir } } : { onStoreError: policy }),
      onError: () => {},
    });
    const app = new Koa();
    const errors: unknown[] = [];
    app.on('error', (error: unknown) => errors.push(error));
    app.use(koaActionLog(logger, options));
    app.use(route);
    const handle = app.callback();
    // Koa settles every request itself (a failure goes to its error handler): its promise is not ours to await.
    const url = await serve((req, res) => void handle(req, res), logger);
    return { url, store, logger, errors };
  }

  it.each(['retry', 'throw', 'spool'] as const)(
    'koa (%s): requests rejected together with one shared error instance each answer with their own X-Request-Id',
    async (policy) => {
      // A promise the app caches and every request awaits (a pool's first connection) rejects while several requests
      // wait on it: their handlers throw the same error instance in the same turn, and Koa answers each one (from the
      // error's `headers`) some microtasks after the middleware saw it.
      const requests = 4;
      const failure = Object.assign(new Error('database unreachable'), { status: 503, headers: { 'retry-after': '30' } });
      let fail!: (error: unknown) => void;
      const connected = new Promise<void>((_, reject) => {
        fail = reject;
      });
      let waiting = 0;
      const { url, store, logger, errors } = await koaApp(policy, async (ctx) => {
        if (++waiting === requests) fail(failure);
        await connected;
        ctx.body = {};
      });
      const paths = Array.from({ length: requests }, (_, i) => `/orders/${i}`);
      const replies = await Promise.all(
        paths.map(async (path) => {
          const reply = await fetch(`${url}${path}`);
          await reply.text();
          return { path, status: reply.status, id: reply.headers.get('x-request-id'), retryAfter: reply.headers.get('retry-after') };
        }),
      );
      await logger.flush();
      const idOf = new Map(store.requests().map((d) => [d.details.request!.url, d.request_uuid]));
      expect(replies).toEqual(paths.map((path) => ({ path, status: 503, id: idOf.get(path), retryAfter: '30' })));
      // The application's error handler gets the very error thrown, its headers as the application set them.
      expect(errors.length).toBe(requests);
      expect(errors.every((error) => error === failure)).toBe(true);
      expect(failure.headers).toEqual({ 'retry-after': '30' });
    },
  );

  it('koa: an error kept in a module leaves no request id behind for a later response outside any scope', async () => {
    // `const unavailable = createError(503)`, thrown by every route in maintenance: a skipped route (health check)
    // answering with it must not send the id of the last audited request that threw it.
    const unavailable = new HttpError(503, 'maintenance');
    const { url, store, logger } = await koaApp(
      'retry',
      () => {
        throw unavailable;
      },
      { skip: (ctx) => ctx.originalUrl === '/health' },
    );
    const audited = await fetch(`${url}/orders/1`);
    await audited.text();
    const health = await fetch(`${url}/health`);
    await health.text();
    await logger.flush();
    expect({
      audited: audited.headers.get('x-request-id'),
      health: [health.status, health.headers.get('x-request-id')],
      errorHeaders: (unavailable as { headers?: unknown }).headers,
    }).toEqual({ audited: store.requests()[0]!.request_uuid, health: [503, null], errorHeaders: undefined });
  });
});
