import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
// Classes the application also holds are typed from the package itself, so both sides see one declaration.
import type { ActionLogger, RequestContext } from 'actionlog';
import { contextStorage, type ScopeEnding } from '../capture/context.js';
import { correlationIdOf, resolveRequestId } from '../capture/ids.js';
import type { ResponseDetails } from '../shared/document.js';
import { ActionLogStoreError } from '../shared/errors.js';
import { parseOptions } from '../shared/parse-options.js';
import { assertLogger } from './guard.js';
import { holdUntilStored, spoolBeforeEnd, UNSTORED_STATUS } from './held-response.js';
import { setAgainAtHead } from './set-again-at-head.js';

/** Options of the Express, Koa and Fastify middleware. `Req` is the framework's request (Koa: its `ctx`). */
export interface HttpOptions<Req = unknown> {
  /** Module of the request's document; default the first segment of the matched route (also given), else `"app"`. */
  module?: string | ((req: Req, route: string | null) => string);
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
  /**
   * Whose request and correlation ids (`X-Request-Id`, `X-Correlation-Id`, `traceparent`) are taken: everyone's
   * (`true`, the default: an id only labels its own request's document, never another's), nobody's (`false`: new
   * ids), only those of the proxies at these addresses (the connection's peer), or those `(req) => boolean` accepts.
   */
  trustIncomingIds?: boolean | string[] | ((req: Req) => boolean);
}

const fn = z.custom<(req: unknown) => unknown>((v) => typeof v === 'function', { error: 'must be a function' });
const header = z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name');

const httpOptionsSchema = z.strictObject({
  module: z.union([z.string().min(1), fn], { error: 'must be a non-empty string or a function' }).optional(),
  user: fn.optional(),
  skip: fn.optional(),
  requestIdHeader: header.default('x-request-id').transform((h) => h.toLowerCase()),
  correlationHeader: header.default('x-correlation-id').transform((h) => h.toLowerCase()),
  captureBody: z.boolean().default(true),
  captureHeaders: z.boolean().default(true),
  trustIncomingIds: z
    .union([z.boolean(), z.array(z.string().min(1)), fn], { error: 'must be a boolean, a list of proxy addresses or a function' })
    .default(true),
});

/** An address as a socket reports it, without the IPv4-mapped IPv6 prefix (`::ffff:10.0.0.1`). */
const plainAddress = (address: string | undefined) => address?.replace(/^::ffff:/, '');

/**
 * How an adapter reads its framework's request: one object per middleware, so nothing is allocated per
 * request for it. `Req` is what the framework hands the middleware (Express/Fastify request, Koa ctx).
 */
export interface HttpRequestReader<Req> {
  /** The Node request (method, headers). */
  raw(req: Req): IncomingMessage;
  /** The URL as the client sent it, with its query string. */
  url(req: Req): string;
  ip(req: Req): string | undefined;
  /** The parsed body, read when the response ends (body parsers may run after the middleware). */
  body(req: Req): unknown;
  /** The matched route pattern, when the framework knows it. */
  route(req: Req): string | undefined;
  /** The framework's usual place for the user. */
  user(req: Req): unknown;
}

// A property under a registered symbol, so that every copy of the package in the process (ESM and CJS) finds it.
// Not a WeakMap: V8's young-generation GC keeps a WeakMap's young keys and values alive, so every request and
// response (and all they held) was promoted to the old generation and left for a full GC (Node 20 and 24 alike).
const CONTEXT = Symbol.for('actionlog.request-context');
/** On the response: the capture whose options make its document (the innermost mount of the scope's logger). */
const CAPTURE = Symbol.for('actionlog.http-capture');
/** On the response, with more than one logger's middleware: the scopes of the others, each with its capture. */
const BESIDE = Symbol.for('actionlog.http-capture-beside');
interface ScopeBeside {
  ctx: RequestContext;
  capture: HttpCapture<object>;
}
type Holder = { [CONTEXT]?: RequestContext; [CAPTURE]?: HttpCapture<object>; [BESIDE]?: ScopeBeside[] };

/** The capture that makes the document of the scope this response is in. */
const captureOf = (res: ServerResponse): HttpCapture<object> | undefined => (res as Holder)[CAPTURE];

/** The scope a middleware opened for this request object (Express/Fastify request, Koa ctx, or the Node request). */
export function contextOf(req: object): RequestContext | undefined {
  return (req as Holder)[CONTEXT];
}

/**
 * The framework-independent part of the middleware: opens the scope, enters it with `als.run`,
 * and stores the document exactly once, when the response finishes or the client goes away.
 */
export class HttpCapture<Req extends object> {
  private readonly options: z.output<typeof httpOptionsSchema>;
  private readonly userOf: (req: Req) => unknown;
  private readonly ipOf: (req: Req) => string | undefined;
  private readonly trusts: (req: Req) => boolean;
  /** One listener shared by every response: `this` is the response, the scope hangs on it. */
  private readonly onClose: (this: ServerResponse) => void;

  constructor(
    private readonly logger: ActionLogger,
    private readonly reader: HttpRequestReader<Req>,
    options: HttpOptions<Req> = {},
  ) {
    assertLogger(logger, 'middleware options');
    this.options = parseOptions(httpOptionsSchema, options, 'middleware options');
    logger.httpCaptureMounted();
    const user = this.options.user as ((req: Req) => unknown) | undefined;
    this.userOf = user ?? ((req) => reader.user(req));
    this.ipOf = (req) => reader.ip(req);
    const trust = this.options.trustIncomingIds;
    if (typeof trust === 'function') this.trusts = trust as (req: Req) => boolean;
    else if (Array.isArray(trust)) {
      const proxies = new Set(trust.map(plainAddress));
      this.trusts = (req) => proxies.has(plainAddress(reader.raw(req).socket.remoteAddress));
    } else this.trusts = () => trust;
    this.onClose = function onResponseClose(this: ServerResponse) {
      const ctx = (this as Holder)[CONTEXT];
      if (ctx) captureOf(this)?.finish(ctx, ctx.source as object, this);
    };
  }

  /**
   * Opens the scope of a request, or returns undefined when `skip` says so. A request already in a scope of the same
   * logger (the middleware mounted again, on a router) stays in it: one document, made with the inner mount's
   * options (module, body, headers); the user and the request id stay the first mount's. Another logger's mount
   * opens a scope of its own, current inside it.
   */
  open(req: Req, res: ServerResponse): RequestContext | undefined {
    const o = this.options;
    try {
      if (o.skip?.(req)) return undefined;
    } catch (error) {
      this.logger.reportError(error);
    }
    const holder = res as Holder;
    const self = this as unknown as HttpCapture<object>;
    const main = holder[CONTEXT];
    if (main && !main.ended && holder[CAPTURE]?.logger === this.logger) {
      if (typeof o.module === 'string') main.setModule(o.module);
      holder[CAPTURE] = self;
      (req as Holder)[CONTEXT] = main;
      return main;
    }
    const beside = holder[BESIDE]?.find((scope) => scope.capture.logger === this.logger && !scope.ctx.ended);
    if (beside) {
      if (typeof o.module === 'string') beside.ctx.setModule(o.module);
      beside.capture = self;
      return beside.ctx;
    }
    return this.begin(req, res, main !== undefined && !main.ended);
  }

  /** This logger's open scope of the response (the one its middleware opened or joined), if any. */
  scopeOf(res: ServerResponse): RequestContext | undefined {
    const holder = res as Holder;
    const main = holder[CONTEXT];
    if (main && holder[CAPTURE]?.logger === this.logger) return main;
    return holder[BESIDE]?.find((scope) => scope.capture.logger === this.logger)?.ctx;
  }

  /** A new scope for the request; `beside` another logger's, which keeps the response's own references. */
  private begin(req: Req, res: ServerResponse, beside: boolean): RequestContext {
    const o = this.options;
    const headers = this.reader.raw(req).headers;
    const trusted = this.trustsIds(req);
    const requestUuid = resolveRequestId(trusted ? headers[o.requestIdHeader] : undefined);
    const ctx = this.logger.openScope<Req>({
      requestUuid,
      module: typeof o.module === 'string' ? o.module : undefined,
      correlationId: trusted ? correlationIdOf(headers[o.correlationHeader], headers.traceparent) : undefined,
      source: req,
      userOf: this.userOf,
      ipOf: this.ipOf,
    });
    let scope: ScopeBeside | undefined;
    if (beside) {
      // Another logger's scope holds the response's references: this one is listed beside it, and ends by a listener
      // of its own.
      const listed: ScopeBeside = (scope = { ctx, capture: this as unknown as HttpCapture<object> });
      ((res as Holder)[BESIDE] ??= []).push(listed);
      res.on('close', () => {
        listed.capture.finish(ctx, req, res);
      });
      if (!res.headersSent && !res.hasHeader(o.requestIdHeader)) res.setHeader(o.requestIdHeader, requestUuid);
    } else {
      // Direct references from the request and the response: 'close' runs outside the request's async context.
      (req as Holder)[CONTEXT] = ctx;
      (res as Holder)[CONTEXT] = ctx;
      (res as Holder)[CAPTURE] = this as unknown as HttpCapture<object>;
      if (!res.headersSent) res.setHeader(o.requestIdHeader, requestUuid);
      // Node emits 'close' once per response, after 'finish' or when the client went away first.
      res.on('close', this.onClose);
    }
    const policy = this.logger.failurePolicy;
    if (policy === 'retry') return ctx;
    // The capture that makes the document: this one, or a later mount of the same logger that joined the scope.
    const maker = () => ((scope ? scope.capture : captureOf(res)) ?? this) as unknown as this;
    // Failure policy 'throw': the response waits for its document to be stored, and fails when it cannot be.
    if (policy === 'spool') {
      spoolBeforeEnd(res, (status) => maker().spool(ctx, req, status));
    } else {
      holdUntilStored(
        res,
        (status) => maker().store(ctx, req, status),
        [o.requestIdHeader],
        (error) => {
          // Store failures are reported by the writer already.
          if (!(error instanceof ActionLogStoreError)) this.logger.report(error);
        },
      );
    }
    return ctx;
  }

  /** The headers every response of this scope carries (its request id), for a framework that clears them on an error. */
  echoedHeaders(ctx: RequestContext): Record<string, string> {
    return { [this.options.requestIdHeader]: ctx.requestUuid };
  }

  /**
   * For a framework that clears the response's headers when it answers an error (Koa): this scope's echoed headers
   * are set again on `res` right before its head goes out. Not on the error, which concurrent requests may share.
   */
  echoAtHead(ctx: RequestContext, res: ServerResponse): void {
    setAgainAtHead(res, this.echoedHeaders(ctx));
  }

  private trustsIds(req: Req): boolean {
    try {
      return this.trusts(req);
    } catch (error) {
      this.logger.reportError(error);
      return false;
    }
  }

  /** Runs `next` inside the scope (`AsyncLocalStorage.run`, never `enterWith`). */
  enter<T>(ctx: RequestContext, next: () => T): T {
    return contextStorage.run(ctx, next);
  }

  private finish(ctx: RequestContext, req: Req, res: ServerResponse): void {
    if (ctx.ended) return;
    try {
      const response = {
        status_code: res.headersSent ? res.statusCode : null,
        duration_ms: ctx.elapsedMs(),
        aborted: !res.writableFinished,
      };
      this.logger.endScope(ctx, this.ending(ctx, req, response));
    } catch (error) {
      // Runs in a response listener: an error here can only be reported, never thrown. The document is kept.
      this.logger.report(error);
      this.logger.endScope(ctx);
    }
  }

  /** Failure policy 'throw': stores the document of a response about to be sent with `statusCode`. */
  private store(ctx: RequestContext, req: Req, statusCode: number): Promise<void> {
    const durationMs = ctx.elapsedMs();
    const ending = this.endingAt(ctx, req, statusCode, durationMs);
    return this.logger.storeScope(ctx, ending, { status_code: UNSTORED_STATUS, duration_ms: durationMs, aborted: false });
  }

  /** Failure policy 'spool': puts the document of a response about to be sent with `statusCode` in the spool. */
  private spool(ctx: RequestContext, req: Req, statusCode: number): Promise<void> | undefined {
    return this.logger.spoolScope(ctx, this.endingAt(ctx, req, statusCode, ctx.elapsedMs()));
  }

  /** The ending of a response about to be sent; without what could not be read of the request when that failed. */
  private endingAt(ctx: RequestContext, req: Req, statusCode: number, durationMs: number): ScopeEnding | undefined {
    try {
      return this.ending(ctx, req, { status_code: statusCode, duration_ms: durationMs, aborted: false });
    } catch (error) {
      this.logger.report(error);
      return undefined;
    }
  }

  /** The `module` option's answer; the route's first segment without one, or when it throws (reported). */
  private moduleOf(req: Req, route: string | null): string {
    const m = this.options.module;
    if (typeof m !== 'function') return moduleOfRoute(route);
    try {
      return String((m as (req: Req, route: string | null) => unknown)(req, route));
    } catch (error) {
      this.logger.report(error);
      return moduleOfRoute(route);
    }
  }

  /**
   * What the document shows of the exchange; the module comes from the route when none was set (a `module` function
   * of a mount that joined the scope answers too).
   */
  private ending(ctx: RequestContext, req: Req, response: ResponseDetails): ScopeEnding {
    const raw = this.reader.raw(req);
    const route = this.reader.route(req) ?? null;
    if (ctx.module === undefined || typeof this.options.module === 'function') ctx.setModule(this.moduleOf(req, route));
    return {
      request: {
        method: raw.method ?? 'GET',
        url: this.reader.url(req),
        route,
        ip: ctx.ip,
        user_agent: raw.headers['user-agent'] ?? null,
        body: this.options.captureBody ? this.reader.body(req) : null,
        headers: this.options.captureHeaders ? raw.headers : {},
      },
      response,
    };
  }
}

const modules = new Map<string, string>();
/** A literal segment: no parameter (`:id`), wildcard or regular-expression syntax. */
const WORD_SEGMENT = /^[\p{L}\p{N}_.~-]+$/u;

/**
 * First literal segment of a route path, else `app`: `/orders/:id` → `orders`. Express 5 (path-to-regexp 8)
 * optional groups and wildcards are understood: `/orders{/:id}` → `orders`, `/{*any}` → `app`.
 */
export function moduleOfRoute(route: string | null): string {
  if (!route) return 'app';
  let module = modules.get(route);
  if (module === undefined) {
    // A regular expression's escaped slashes separate its segments too; other escapes and symbols leave words apart.
    const segments = route.replace(/\\\//g, '/').replace(/\\./g, '').replace(/[{}]/g, '').split('/');
    module = segments.find((s) => WORD_SEGMENT.test(s)) ?? 'app';
    // Route patterns are few; a bound keeps an app with generated patterns from growing this forever.
    if (modules.size < 1000) modules.set(route, module);
  }
  return module;
}
