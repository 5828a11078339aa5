import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActionLogger } from 'actionlog';
import { HttpCapture, type HttpOptions, type HttpRequestReader } from 'actionlog/adapter-kit';

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
    return capture.enter(scope, next);
  };
}

export { contextOf } from 'actionlog/adapter-kit';
