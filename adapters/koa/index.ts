import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActionLogger } from 'actionlog';
import { HttpCapture, type HttpOptions, type HttpRequestReader, SseTail, type TailRouteOptions } from 'actionlog/adapter-kit';

/** The parts of a Koa context the middleware reads. */
export interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  originalUrl: string;
  ip: string;
  state: { user?: unknown } & Record<string, unknown>;
  request: { body?: unknown };
  /** Set by @koa/router. */
  _matchedRoute?: unknown;
}

/** The middleware's options; `user`, `module` and `skip` get the app's own context type (`actionLog<Context>(...)`). */
export type ActionLogMiddlewareOptions<Ctx extends KoaContext = KoaContext> = HttpOptions<Ctx>;

const reader: HttpRequestReader<KoaContext> = {
  raw: (ctx) => ctx.req,
  url: (ctx) => ctx.originalUrl,
  ip: (ctx) => ctx.ip,
  body: (ctx) => ctx.request.body,
  route: (ctx) => (typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : undefined),
  user: (ctx) => ctx.state.user,
};

/** Koa middleware: one request document per request. `use()` it first. */
export function actionLog<Ctx extends KoaContext = KoaContext>(logger: ActionLogger, options: HttpOptions<Ctx> = {}) {
  const capture = new HttpCapture<Ctx>(logger, reader, options);
  return function actionLogMiddleware(ctx: Ctx, next: () => Promise<unknown>): Promise<unknown> {
    const scope = capture.open(ctx, ctx.res);
    if (!scope) return next();
    return capture.enter(scope, next).catch((error: unknown) => {
      // Koa answers an error with the error's own `headers` only (it clears the others first): the request id is set
      // again on this request's response, never on the error, which requests failing together may share.
      capture.echoAtHead(scope, ctx.res);
      throw error;
    });
  };
}

/**
 * A Koa middleware streaming the trail as Server-Sent Events (`router.get('/audit/tail', actionLogTail(logger, { authorize }))`):
 * `authorize(ctx)` is required; `Last-Event-ID` resumes.
 */
export function actionLogTail<Ctx extends KoaContext = KoaContext>(logger: ActionLogger, options: TailRouteOptions<Ctx>) {
  const tail = new SseTail<Ctx>(logger, options);
  return async function actionLogTailRoute(ctx: Ctx & { respond?: boolean }): Promise<void> {
    // The stream is written to the raw response: Koa must not answer on its own.
    ctx.respond = false;
    await tail.serve(ctx, ctx.req, ctx.res);
  };
}

export { contextOf } from 'actionlog/adapter-kit';
