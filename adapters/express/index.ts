import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActionLogger } from 'actionlog';
import { HttpCapture, type HttpOptions, type HttpRequestReader, SseTail, type TailRouteOptions } from 'actionlog/adapter-kit';
import { checkMountedBeforeRoutes } from './route-order.js';

/** The parts of an Express (4 or 5) request the middleware reads. */
export interface ExpressRequest extends IncomingMessage {
  originalUrl?: string;
  baseUrl?: string;
  ip?: string;
  body?: unknown;
  route?: { path?: unknown };
  user?: unknown;
}

/** The middleware's options; `user`, `module` and `skip` get the app's own request type (`actionLog<Request>(...)`). */
export type ActionLogMiddlewareOptions<Req extends ExpressRequest = ExpressRequest> = HttpOptions<Req>;

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
export function actionLog<Req extends ExpressRequest = ExpressRequest>(logger: ActionLogger, options: HttpOptions<Req> = {}) {
  const capture = new HttpCapture<Req>(logger, reader, options);
  let orderChecked = false;
  return function actionLogMiddleware(req: Req, res: ServerResponse, next: (err?: unknown) => void): void {
    if (!orderChecked) {
      orderChecked = true;
      try {
        checkMountedBeforeRoutes(logger, req, actionLogMiddleware);
      } catch (error) {
        logger.report(error);
      }
    }
    const ctx = capture.open(req, res);
    if (!ctx) {
      next();
      return;
    }
    capture.enter(ctx, next);
  };
}

/**
 * An Express route streaming the trail as Server-Sent Events (`app.get('/audit/tail', actionLogTail(logger, { authorize }))`):
 * `authorize(req)` is required; `Last-Event-ID` resumes.
 */
export function actionLogTail<Req extends ExpressRequest = ExpressRequest>(logger: ActionLogger, options: TailRouteOptions<Req>) {
  const tail = new SseTail<Req>(logger, options);
  return function actionLogTailRoute(req: Req, res: ServerResponse, next: (err?: unknown) => void): void {
    tail.serve(req, req, res).catch(next);
  };
}

export { contextOf } from 'actionlog/adapter-kit';
