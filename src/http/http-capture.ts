import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { z } from 'zod';
import { contextStorage, type RequestContext } from '../context.js';
import type { ActionLogger } from '../logger.js';
import { ActionLogConfigError } from '../errors.js';
import { parseOptions } from '../options.js';
import { correlationIdOf, resolveRequestId } from './ids.js';

/** Options of the Express, Koa and Fastify middleware. `Req` is the framework's request (Koa: its `ctx`). */
export interface HttpOptions<Req = unknown> {
  /** Module of the request's document; default the first segment of the matched route, else `"app"`. */
  module?: string | ((req: Req) => string);
  /** The request's user; default `req.user` (Express, Fastify) or `ctx.state.user` (Koa). Read lazily. */
  user?: (req: Req) => unknown;
  /** Requests for which nothing is recorded (health checks...). */
  skip?: (req: Req) => boolean;
  /** Header carrying the request id, read and echoed. Default `x-request-id`. */
  requestIdHeader?: string;
  /** Header carrying a correlation id; `traceparent` is used when it is absent. Default `x-correlation-id`. */
  correlationHeader?: string;
  /** Store the request body. Default true. */
  captureBody?: boolean;
  /** Store the request headers (secrets redacted). Default true. */
  captureHeaders?: boolean;
}

const fn = z.custom<(req: unknown) => unknown>((v) => typeof v === 'function', { message: 'must be a function' });
const header = z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name');

const httpOptionsSchema = z.strictObject({
  module: z.union([z.string().min(1), fn], { error: 'must be a non-empty string or a function' }).optional(),
  user: fn.optional(),
  skip: fn.optional(),
  requestIdHeader: header.default('x-request-id').transform((h) => h.toLowerCase()),
  correlationHeader: header.default('x-correlation-id').transform((h) => h.toLowerCase()),
  captureBody: z.boolean().default(true),
  captureHeaders: z.boolean().default(true),
});

/** What a framework adapter tells the core about one request; the getters are read when it ends. */
export interface HttpExchange<Req> {
  req: Req;
  method: string;
  headers: IncomingHttpHeaders;
  res: ServerResponse;
  url(): string;
  ip(): string | undefined;
  body(): unknown;
  route(): string | undefined;
  /** The framework's usual place for the user. */
  user(): unknown;
}

const CONTEXT = Symbol.for('actionlog.request-context');

/** The scope a middleware opened for this request object (Express/Fastify request, Koa ctx, or the Node request). */
export function contextOf(req: object): RequestContext | undefined {
  return (req as { [CONTEXT]?: RequestContext })[CONTEXT];
}

/**
 * The framework-independent part of the middleware: opens the scope, enters it with `als.run`,
 * and stores the document exactly once, when the response finishes or the client goes away.
 */
export class HttpCapture<Req extends object> {
  private readonly options: z.output<typeof httpOptionsSchema>;

  constructor(
    private readonly logger: ActionLogger,
    options: HttpOptions<Req> = {},
  ) {
    if (!logger || typeof (logger as Partial<ActionLogger>).openScope !== 'function') {
      throw new ActionLogConfigError([{ path: 'logger', message: 'must be an ActionLogger (createActionLogger)' }], 'middleware options');
    }
    this.options = parseOptions(httpOptionsSchema, options, 'middleware options');
  }

  /** Opens the scope of a request, or returns undefined when `skip` says so. */
  open(ex: HttpExchange<Req>): RequestContext | undefined {
    const o = this.options;
    try {
      if (o.skip?.(ex.req)) return undefined;
    } catch (error) {
      this.logger.reportError(error);
    }
    const requestUuid = resolveRequestId(ex.headers[o.requestIdHeader]);
    const ctx = this.logger.openScope({
      requestUuid,
      module: typeof o.module === 'string' ? o.module : undefined,
      correlationId: correlationIdOf(ex.headers[o.correlationHeader], ex.headers.traceparent),
      user: o.user ? () => o.user!(ex.req) : () => ex.user(),
      ip: ex.ip(),
    });
    (ex.req as { [CONTEXT]?: RequestContext })[CONTEXT] = ctx;
    if (!ex.res.headersSent) ex.res.setHeader(o.requestIdHeader, requestUuid);
    // The listeners hold the scope directly: 'finish'/'close' run outside the request's async context.
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.finish(ctx, ex, !ex.res.writableFinished);
    };
    ex.res.once('finish', finish);
    ex.res.once('close', finish);
    return ctx;
  }

  /** Runs `next` inside the scope (`AsyncLocalStorage.run`, never `enterWith`). */
  enter<T>(ctx: RequestContext, next: () => T): T {
    return contextStorage.run(ctx, next);
  }

  private finish(ctx: RequestContext, ex: HttpExchange<Req>, aborted: boolean): void {
    try {
      const route = ex.route() ?? null;
      ctx.request = {
        method: ex.method,
        url: ex.url(),
        route,
        ip: ctx.ip ?? null,
        user_agent: typeof ex.headers['user-agent'] === 'string' ? ex.headers['user-agent'] : null,
        body: this.options.captureBody ? ex.body() : null,
        headers: this.options.captureHeaders ? { ...ex.headers } : {},
      };
      ctx.response = {
        status_code: ex.res.headersSent ? ex.res.statusCode : null,
        duration_ms: ctx.elapsedMs(),
        aborted,
      };
      if (ctx.module === undefined) {
        const m = this.options.module;
        ctx.setModule(typeof m === 'function' ? String(m(ex.req)) : moduleOfRoute(route));
      }
      this.logger.describeActivity(ex.req, ctx);
    } catch (error) {
      // Runs in a response listener: an error here can only be reported, never thrown.
      this.logger.report(error);
    }
    this.logger.endScope(ctx, false);
  }
}

/** First literal segment of a route path (`/orders/:id` → `orders`), else `app`. */
export function moduleOfRoute(route: string | null): string {
  if (!route) return 'app';
  for (const segment of route.split('/')) {
    if (segment && !segment.startsWith(':') && !segment.startsWith('*') && !segment.startsWith('(')) return segment;
  }
  return 'app';
}
