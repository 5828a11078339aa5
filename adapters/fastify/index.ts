import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { ActionLogger } from 'actionlog';
import { contextOf, HttpCapture, type HttpOptions, type HttpRequestReader, SseTail, type TailRouteOptions } from 'actionlog/adapter-kit';

export interface ActionLogPluginOptions extends HttpOptions<FastifyRequest> {
  logger: ActionLogger;
}

const reader: HttpRequestReader<FastifyRequest> = {
  raw: (req) => req.raw,
  url: (req) => req.originalUrl,
  ip: (req) => req.ip,
  body: (req) => req.body,
  route: (req) => req.routeOptions.url,
  user: (req) => (req as { user?: unknown }).user,
};

const plugin: FastifyPluginCallback<ActionLogPluginOptions> = (fastify, options, done) => {
  const { logger, ...http } = options;
  let capture: HttpCapture<FastifyRequest>;
  try {
    capture = new HttpCapture(logger, reader, http);
  } catch (error) {
    done(error as Error);
    return;
  }
  fastify.addHook('onRequest', (req, reply, next) => {
    const ctx = capture.open(req, reply.raw);
    if (!ctx) {
      next();
      return;
    }
    capture.enter(ctx, next);
  });
  // Body parsing runs outside the scope: enter it again before validation, so hooks and the handler see it.
  fastify.addHook('preValidation', (_req, reply, next) => {
    // This logger's scope (with another logger's plugin too, each enters its own).
    const ctx = capture.scopeOf(reply.raw);
    if (!ctx) {
      next();
      return;
    }
    capture.enter(ctx, next);
  });
  done();
};

// Hooks apply to the whole app, not an encapsulated child (what fastify-plugin's skip-override does).
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'actionlog',
  [Symbol.for('plugin-meta')]: { name: 'actionlog', fastify: '5.x' },
});

/** Fastify plugin: `await app.register(actionLogPlugin, { logger })`, before the routes. */
export const actionLogPlugin = plugin;

/**
 * A Fastify route handler streaming the trail as Server-Sent Events (`app.get('/audit/tail', actionLogTail(logger, { authorize }))`):
 * `authorize(req)` is required; `Last-Event-ID` resumes.
 */
export function actionLogTail(logger: ActionLogger, options: TailRouteOptions<FastifyRequest>) {
  const tail = new SseTail<FastifyRequest>(logger, options);
  return async function actionLogTailRoute(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // The stream is written to the raw response: Fastify must not send a reply of its own.
    reply.hijack();
    await tail.serve(req, req.raw, reply.raw);
  };
}

export { contextOf };
