import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ActionLogger, HttpCapture, type HttpOptions } from 'actionlog';

/** The parts of an Express (4 or 5) request the middleware reads. */
export interface ExpressRequest extends IncomingMessage {
  originalUrl?: string;
  baseUrl?: string;
  ip?: string;
  body?: unknown;
  route?: { path?: unknown };
  user?: unknown;
}

export type ActionLogMiddlewareOptions = HttpOptions<ExpressRequest>;

/** Express middleware: one request document per request. Mount it before the routes (and before body parsers is fine). */
export function actionLog(logger: ActionLogger, options: ActionLogMiddlewareOptions = {}) {
  const capture = new HttpCapture<ExpressRequest>(logger, options);
  return function actionLogMiddleware(req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    const ctx = capture.open({
      req,
      res,
      method: req.method ?? 'GET',
      headers: req.headers,
      url: () => req.originalUrl ?? req.url ?? '',
      ip: () => req.ip ?? req.socket?.remoteAddress,
      body: () => req.body,
      route: () => (req.route?.path === undefined ? undefined : `${req.baseUrl ?? ''}${String(req.route.path)}`),
      user: () => req.user,
    });
    if (!ctx) return next();
    capture.enter(ctx, next);
  };
}

export { contextOf } from 'actionlog';
