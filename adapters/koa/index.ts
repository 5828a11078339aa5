import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ActionLogger, HttpCapture, type HttpOptions } from 'actionlog';

/** The parts of a Koa context the middleware reads. */
export interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  originalUrl: string;
  ip: string;
  state: { user?: unknown } & Record<string, unknown>;
  request: { body?: unknown };
  /** Set by @koa/router. */
  _matchedRoute?: unknown;
  routePath?: unknown;
}

export type ActionLogMiddlewareOptions = HttpOptions<KoaContext>;

/** Koa middleware: one request document per request. `use()` it first. */
export function actionLog(logger: ActionLogger, options: ActionLogMiddlewareOptions = {}) {
  const capture = new HttpCapture<KoaContext>(logger, options);
  return function actionLogMiddleware(ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> {
    const scope = capture.open({
      req: ctx,
      res: ctx.res,
      method: ctx.method,
      headers: ctx.req.headers,
      url: () => ctx.originalUrl,
      ip: () => ctx.ip,
      body: () => ctx.request.body,
      route: () => {
        const route = ctx._matchedRoute ?? ctx.routePath;
        return typeof route === 'string' ? route : undefined;
      },
      user: () => ctx.state.user,
    });
    if (!scope) return next();
    return capture.enter(scope, next);
  };
}

export { contextOf } from 'actionlog';
