import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ActionLogger } from '../logger.js';
import type { QueryFilter } from '../read/filter.js';
import { ActionLogConfigError } from '../shared/errors.js';
import { parseOptions } from '../shared/parse-options.js';
import { assertLogger } from './guard.js';

/** Options of the Server-Sent Events tail route of every framework adapter. */
export interface TailRouteOptions<Req> {
  /** Required: whether this request may read the trail (its user, a role...). A route without it is refused at setup. */
  authorize: (req: Req) => boolean | Promise<boolean>;
  /** What to follow: a filter, or one made from the request. Default: every action. */
  filter?: QueryFilter | ((req: Req) => QueryFilter);
  /** A comment line this often keeps proxies from closing an idle stream. Default 15 000 ms. */
  heartbeatMs?: number;
  /** How often the store is asked when nothing wakes the tail sooner. Default 1000 ms. */
  pollMs?: number;
}

const fn = z.custom<(req: never) => unknown>((v) => typeof v === 'function', { error: 'must be a function' });
const schema = z.strictObject({
  authorize: fn.optional(),
  filter: z.union([fn, z.looseObject({ kind: z.string() })], { error: 'must be a filter or a function returning one' }).optional(),
  heartbeatMs: z.number().int().min(100).default(15_000),
  pollMs: z.number().int().min(10).default(1000),
});

/**
 * Streams a trail as Server-Sent Events: one event per entry as it is stored, its `id` the cursor, so that a browser's
 * `EventSource` resumes after a reconnect with `Last-Event-ID` and misses nothing. Framework adapters hand it the
 * raw request and response.
 */
export class SseTail<Req> {
  private readonly options: z.output<typeof schema>;

  constructor(
    private readonly logger: ActionLogger,
    options: TailRouteOptions<Req>,
  ) {
    assertLogger(logger, 'tail route options');
    this.options = parseOptions(schema, options, 'tail route options');
    if (!this.options.authorize) {
      const message = 'is required: a function saying whether the request may read the trail';
      throw new ActionLogConfigError([{ path: 'authorize', message }], 'tail route options');
    }
  }

  /**
   * Answers one request: 403 unless authorized, 500 when `authorize` or `filter` throws, 400 for a bad filter or
   * cursor, else the stream until the client leaves.
   */
  async serve(req: Req, raw: IncomingMessage, res: ServerResponse): Promise<void> {
    // Watched before admitting: a client that leaves while an async authorize runs must not start a tail.
    const gone = clientGone(res);
    const filter = await this.admit(req, res);
    if (!filter || gone.aborted) return;
    const lastId = raw.headers['last-event-id'];
    let entries: AsyncIterable<{ entry: unknown; cursor: string }>;
    try {
      entries = this.logger.tail(filter, {
        after: typeof lastId === 'string' && lastId ? lastId : null,
        signal: gone,
        pollMs: this.options.pollMs,
      });
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(error instanceof Error ? error.message : 'Bad request');
      return;
    }
    await this.stream(filter.kind, entries, res, gone);
  }

  /** Writes each entry as an event, and a heartbeat between, until the tail ends or the client leaves. */
  private async stream(
    kind: string,
    entries: AsyncIterable<{ entry: unknown; cursor: string }>,
    res: ServerResponse,
    gone: AbortSignal,
  ): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': actionlog tail\n\n');
    const heartbeat = setInterval(() => res.write(': ping\n\n'), this.options.heartbeatMs);
    try {
      for await (const { entry, cursor } of entries) {
        if (!res.write(`id: ${cursor}\nevent: ${kind}\ndata: ${JSON.stringify(entry)}\n\n`)) await drained(res);
      }
    } catch (error) {
      if (!gone.aborted) this.logger.report(error);
    } finally {
      clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
    }
  }

  /**
   * The filter to follow, or undefined once the request is answered: 403 unless authorized. The app's `authorize`
   * or `filter` that throws is reported and answered here with a 500, the same in every framework (a Fastify route
   * has handed its reply over, and would otherwise never answer).
   */
  private async admit(req: Req, res: ServerResponse): Promise<QueryFilter | undefined> {
    try {
      if (await this.authorized(req)) return this.filterFor(req);
    } catch (error) {
      this.logger.report(error);
      answerFailure(res);
      return undefined;
    }
    res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden');
    return undefined;
  }

  private authorized(req: Req): boolean | Promise<boolean> {
    return (this.options.authorize as (req: Req) => boolean | Promise<boolean>)(req);
  }

  /** The filter option, or the one it makes from the request; every action by default. */
  private filterFor(req: Req): QueryFilter {
    const given = this.options.filter;
    return ((typeof given === 'function' ? (given as (req: Req) => QueryFilter)(req) : given) ?? { kind: 'actions' }) as QueryFilter;
  }
}

/** A 500 for a request the app's own code failed; a response already begun is only ended. */
function answerFailure(res: ServerResponse): void {
  if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
  else if (!res.writableEnded) res.end();
}

/** A signal aborted once the response is closed: the client has left, or the response has ended. */
function clientGone(res: ServerResponse): AbortSignal {
  const abort = new AbortController();
  // The framework may hand the response over after the client has already left: 'close' will not come again.
  if (res.destroyed) abort.abort();
  else
    res.once('close', () => {
      abort.abort();
    });
  return abort.signal;
}

/** Resolves when the response can take more, or is closed (a dead socket never drains). */
function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
