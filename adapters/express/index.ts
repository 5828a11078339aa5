import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActionLogger } from 'actionlog';
import { HttpCapture, type HttpOptions, type HttpRequestReader } from 'actionlog/adapter-kit';

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

const reader: HttpRequestReader<ExpressRequest> = {
  raw: (req) => req,
  url: (req) => req.originalUrl ?? req.url ?? '',
  // req.ip honours the app's 'trust proxy' setting.
  ip: (req) => req.ip ?? req.socket?.remoteAddress,
  body: (req) => req.body,
  route: (req) => (req.route?.path === undefined ? undefined : `${req.baseUrl ?? ''}${String(req.route.path)}`),
  user: (req) => req.user,
};

/** Express middleware: one request document per request. Mount it before the routes; body parsers may come after. */
export function actionLog(logger: ActionLogger, options: ActionLogMiddlewareOptions = {}) {
  const capture = new HttpCapture(logger, reader, options);
  return function actionLogMiddleware(req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    const ctx = capture.open(req, res);
    if (!ctx) return next();
    capture.enter(ctx, next);
  };
}

export { contextOf } from 'actionlog/adapter-kit';
