import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import bodyParser from '@koa/bodyparser';
import Router, { type RouterMiddleware } from '@koa/router';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import Koa from 'koa';
import type { ActionLogger } from 'actionlog';
import type { HttpOptions } from 'actionlog/adapter-kit';
import { actionLog as expressActionLog } from 'actionlog/express';
import { actionLogPlugin } from 'actionlog/fastify';
import { actionLog as koaActionLog } from 'actionlog/koa';

export type Framework = 'express' | 'express4' | 'koa' | 'fastify';
export const FRAMEWORKS: Framework[] = ['express', 'express4', 'koa', 'fastify'];

/** A framework-neutral route handler: what the test app does, written once for every framework. */
export type Handler = (input: { params: Record<string, string>; body: unknown }) => Promise<{ status?: number; body?: unknown }>;

export interface AppSpec {
  logger: ActionLogger;
  options?: HttpOptions<never>;
  /** Routes keyed `METHOD /path/:param`. */
  routes: Record<string, Handler>;
  /** Runs before the actionlog middleware, on every request. */
  before?: () => void;
}

export interface RunningApp {
  url: string;
  /** TCP connections the server accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** An error a handler throws to answer with a status code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
  get statusCode() {
    return this.status;
  }
}

function routeList(spec: AppSpec) {
  return Object.entries(spec.routes).map(([key, handler]) => {
    const [method, path] = key.split(' ') as [string, string];
    return { method: method.toLowerCase(), path, handler };
  });
}

/** Sets the user from the `x-user` header, after the audit middleware (as auth usually runs). */
function userFrom(header: string | string[] | undefined) {
  return typeof header === 'string'
    ? { _id: header, name: `User ${header}`, email: `${header}@example.test`, passwordHash: 'x' }
    : undefined;
}

/**
 * Idle keep-alive sockets outlive any test: with Node's 5 s default, a socket the client reuses just as the server
 * closes it fails the request with "socket hang up" (seen under load in the poison test).
 */
const KEEP_ALIVE_MS = 120_000;

async function serve(server: Server): Promise<RunningApp> {
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}

function startExpress(spec: AppSpec, lib: typeof express): Promise<RunningApp> {
  const app = lib();
  app.set('trust proxy', false);
  if (spec.before) {
    const before = spec.before;
    app.use((_req, _res, next) => {
      before();
      next();
    });
  }
  app.use(expressActionLog(spec.logger, spec.options as HttpOptions));
  app.use(lib.json(), lib.urlencoded({ extended: true }), lib.text());
  app.use((req, _res, next) => {
    (req as { user?: unknown }).user = userFrom(req.headers['x-user']);
    next();
  });
  for (const { method, path, handler } of routeList(spec)) {
    (app as unknown as Record<string, (path: string, h: express.RequestHandler) => void>)[method]!(path, (req, res, next) => {
      handler({ params: req.params as Record<string, string>, body: req.body })
        .then((out) => res.status(out.status ?? 200).json(out.body ?? { ok: true }))
        .catch(next);
    });
  }
  app.use((err: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.message });
  });
  return serve(createServer(app));
}

function startKoa(spec: AppSpec): Promise<RunningApp> {
  const app = new Koa();
  app.silent = true;
  if (spec.before) app.use((_ctx, next) => (spec.before!(), next()));
  app.use(koaActionLog(spec.logger, spec.options as HttpOptions));
  app.use(bodyParser({ enableTypes: ['json', 'form', 'text'] }));
  app.use((ctx, next) => {
    ctx.state.user = userFrom(ctx.get('x-user') || undefined);
    return next();
  });
  const router = new Router();
  for (const { method, path, handler } of routeList(spec)) {
    (router as unknown as Record<string, (path: string, h: RouterMiddleware) => void>)[method]!(path, async (ctx) => {
      const out = await handler({ params: ctx.params, body: ctx.request.body });
      ctx.status = out.status ?? 200;
      ctx.body = out.body ?? { ok: true };
    });
  }
  app.use(router.routes());
  const handle = app.callback();
  // Koa settles every request itself (a failure goes to its error handler), so its promise is not ours to await.
  return serve(createServer((req, res) => void handle(req, res)));
}

async function startFastify(spec: AppSpec): Promise<RunningApp> {
  const app = Fastify({ logger: false, keepAliveTimeout: KEEP_ALIVE_MS });
  if (spec.before) {
    const before = spec.before;
    app.addHook('onRequest', (_req, _reply, done) => {
      before();
      done();
    });
  }
  await app.register(actionLogPlugin, { logger: spec.logger, ...(spec.options as HttpOptions) });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseQuery(body as string));
  });
  app.addHook('preValidation', (req, _reply, done) => {
    (req as { user?: unknown }).user = userFrom(req.headers['x-user']);
    done();
  });
  for (const { method, path, handler } of routeList(spec)) {
    app.route({
      method: method.toUpperCase(),
      url: path,
      handler: async (req, reply) => {
        const out = await handler({ params: req.params as Record<string, string>, body: req.body });
        reply.code(out.status ?? 200);
        return out.body ?? { ok: true };
      },
    });
  }
  let connections = 0;
  app.server.on('connection', () => connections++);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/** Starts the same app on the given framework, with the actionlog middleware mounted first. */
export function startApp(framework: Framework, spec: AppSpec): Promise<RunningApp> {
  switch (framework) {
    case 'express':
      return startExpress(spec, express);
    case 'express4':
      return startExpress(spec, express4);
    case 'koa':
      return startKoa(spec);
    case 'fastify':
      return startFastify(spec);
  }
}
