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
  ip: (req) => req.ip ?? req.socket.remoteAddress,
  body: (req) => req.body,
  route: (req) => (req.route?.path === undefined ? undefined : `${req.baseUrl ?? ''}${routeText(req.route.path)}`),
  user: (req) => req.user,
};

/** A route path as written: Express 4 also takes regular expressions and lists of paths. */
function routeText(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return path.toString();
  return Array.isArray(path) ? path.map(routeText).join(',') : '';
}

/** Express middleware: one request document per request. Mount it before the routes; body parsers may come after. */
export function actionLog(logger: ActionLogger, options: ActionLogMiddlewareOptions = {}) {
  const capture = new HttpCapture(logger, reader, options);
  return function actionLogMiddleware(req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    const ctx = capture.open(req, res);
    if (!ctx) {
      next();
      return;
    }
    capture.enter(ctx, next);
  };
}

export { contextOf } from 'actionlog/adapter-kit';
