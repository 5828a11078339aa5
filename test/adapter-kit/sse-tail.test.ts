import { once } from 'node:events';
import { request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ActionLogConfigError, type ActionLogger, createActionLogger, MemoryStore, type QueryFilter } from 'actionlog';
import { actionLogTail as expressTail } from 'actionlog/express';
import { actionLogTail as fastifyTail } from 'actionlog/fastify';
import { actionLogTail as koaTail } from 'actionlog/koa';

/** Options a test sets over the route's own: functions that ignore the request, so they fit every framework. */
interface Overrides {
  authorize?: () => boolean | Promise<boolean>;
  filter?: () => QueryFilter;
}

type Mount = (logger: ActionLogger, overrides?: Overrides) => Promise<{ url: string; close: () => Promise<void> }>;

const allowed = (headers: Record<string, unknown>) => headers['x-role'] === 'auditor';

async function listening(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const FRAMEWORKS: Record<string, Mount> = {
  express: async (logger, overrides) => {
    const app = express();
    app.get('/tail', expressTail(logger, { authorize: (req) => allowed(req.headers), pollMs: 20, ...overrides }));
    const server = app.listen(0, '127.0.0.1');
    return {
      url: await listening(server),
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    };
  },
  koa: async (logger, overrides) => {
    const app = new Koa();
    const router = new Router();
    router.get('/tail', koaTail(logger, { authorize: (ctx) => allowed(ctx.req.headers), pollMs: 20, ...overrides }));
    app.use(router.routes());
    const server = app.listen(0, '127.0.0.1');
    return {
      url: await listening(server),
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    };
  },
  fastify: async (logger, overrides) => {
    const app = Fastify();
    app.get('/tail', fastifyTail(logger, { authorize: (req) => allowed(req.headers), pollMs: 20, ...overrides }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  },
};

interface Event {
  id: string;
  event: string;
  data: { action_type: string };
}

/** Opens the stream and collects events until `until` says so; resolves with them. */
function collect(
  url: string,
  headers: Record<string, string>,
  until: (events: Event[]) => boolean,
): Promise<{ status: number; events: Event[] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/tail`, { headers }, (res: IncomingMessage) => {
      const events: Event[] = [];
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, events });
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
          );
          if (fields.data) events.push({ id: fields.id!, event: fields.event!, data: JSON.parse(fields.data) as Event['data'] });
        }
        if (until(events)) {
          req.destroy();
          resolve({ status: 200, events });
        }
      });
    });
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    req.end();
  });
}

/** The status the route answers within `ms`, or 'no answer'. */
async function statusWithin(url: string, headers: Record<string, string>, ms: number): Promise<number | 'no answer'> {
  try {
    const reply = await fetch(`${url}/tail`, { headers, signal: AbortSignal.timeout(ms) });
    await reply.body?.cancel();
    return reply.status;
  } catch (error) {
    if (error instanceof Error && error.name === 'TimeoutError') return 'no answer';
    throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const record = async (logger: ActionLogger, names: string[]) => {
  for (const name of names) await logger.run({}, () => logger.record({ action: name }));
  await logger.flush();
};

describe.each(Object.keys(FRAMEWORKS))('the %s tail route (Server-Sent Events)', (framework) => {
  let close: (() => Promise<void>) | undefined;
  let logger: ActionLogger;
  afterEach(async () => {
    await close?.();
    await logger.close();
  });

  it('streams entries as they are stored to an authorized client, and resumes from Last-Event-ID', async () => {
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0 });
    const mounted = await FRAMEWORKS[framework]!(logger);
    close = mounted.close;
    await record(logger, ['before']);
    // At least two: the server's writes may reach the client together (Node 24 sends them in one packet).
    const first = collect(mounted.url, { 'x-role': 'auditor' }, (events) => events.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await record(logger, ['a1', 'a2', 'a3']);
    const { events } = await first;
    expect(events.slice(0, 2).map((e) => [e.event, e.data.action_type])).toEqual([
      ['actions', 'a1'],
      ['actions', 'a2'],
    ]);
    // A reconnect with the last id it got: the rest, nothing twice.
    const again = await collect(mounted.url, { 'x-role': 'auditor', 'last-event-id': events[1]!.id }, (e) => e.length === 1);
    expect(again.events.map((e) => e.data.action_type)).toEqual(['a3']);
  });

  it('refuses a client authorize turns down, and a Last-Event-ID it did not issue', async () => {
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0 });
    const mounted = await FRAMEWORKS[framework]!(logger);
    close = mounted.close;
    expect((await collect(mounted.url, {}, () => true)).status).toBe(403);
    expect((await collect(mounted.url, { 'x-role': 'auditor', 'last-event-id': 'forged' }, () => true)).status).toBe(400);
  });

  it('answers 400, before any stream, a well-formed Last-Event-ID whose position this store cannot have made', async () => {
    const errors: Error[] = [];
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0, onError: (error) => errors.push(error) });
    const mounted = await FRAMEWORKS[framework]!(logger);
    close = mounted.close;
    const first = collect(mounted.url, { 'x-role': 'auditor' }, (events) => events.length >= 1);
    await sleep(100);
    await record(logger, ['a1']);
    const [issued] = (await first).events;
    // The id the route issued, its position moved to one no store makes: what a client of another trail may send.
    const state = JSON.parse(Buffer.from(issued!.id, 'base64url').toString('utf8')) as object;
    const foreign = Buffer.from(JSON.stringify({ ...state, id: 'other-store:7', seq: 'other-store:7' })).toString('base64url');
    const reply = await fetch(`${mounted.url}/tail`, { headers: { 'x-role': 'auditor', 'last-event-id': foreign } });
    const body = reply.status === 200 ? (await reply.body?.cancel(), 'a stream') : await reply.text();
    expect(reply.status).toBe(400);
    expect(body).toContain('after: is not a cursor of this store');
    expect(errors).toEqual([]);
  });

  it.each([
    ['authorize', 'the session store is down'],
    ['filter', 'no tenant on this request'],
  ] as const)('answers 500 at once when %s throws, and reports the error to onError', async (option, message) => {
    const errors: Error[] = [];
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0, onError: (error) => errors.push(error) });
    const throwing = () => {
      throw new Error(message);
    };
    const mounted = await FRAMEWORKS[framework]!(logger, { [option]: throwing });
    close = mounted.close;
    expect(await statusWithin(mounted.url, { 'x-role': 'auditor' }, 2000)).toBe(500);
    expect(errors.map((e) => e.message)).toEqual([message]);
  });

  it('ends the stream when the logger closes', async () => {
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0 });
    const mounted = await FRAMEWORKS[framework]!(logger);
    close = mounted.close;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      request(`${mounted.url}/tail`, { headers: { 'x-role': 'auditor' } }, resolve)
        .on('error', reject)
        .end();
    });
    expect(response.statusCode).toBe(200);
    response.resume();
    const ended = once(response, 'end').then(() => 'ended');
    await logger.close();
    expect(await Promise.race([ended, sleep(5000).then(() => 'still open')])).toBe('ended');
  });

  it('starts no tail for a client that leaves while authorize is pending', async () => {
    const store = new MemoryStore();
    const queries = vi.spyOn(store, 'query');
    logger = createActionLogger({ store, flushIntervalMs: 0 });
    let asked!: () => void;
    const authorizing = new Promise<void>((resolve) => (asked = resolve));
    let answer!: (allowed: boolean) => void;
    const verdict = new Promise<boolean>((resolve) => (answer = resolve));
    const mounted = await FRAMEWORKS[framework]!(logger, {
      authorize: () => {
        asked();
        return verdict;
      },
    });
    close = mounted.close;
    const client = request(`${mounted.url}/tail`, { headers: { 'x-role': 'auditor' } });
    client.on('error', () => {});
    client.end();
    await authorizing;
    client.destroy();
    await sleep(100);
    answer(true);
    // Ten polls' time: a tail started for the gone client would have asked the store by now, and forever after.
    await sleep(200);
    expect(queries).not.toHaveBeenCalled();
  });
});

describe('tail routes', () => {
  it('cannot be mounted without authorize', async () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    const mounts: Array<(logger: ActionLogger, options: never) => unknown> = [expressTail, koaTail, fastifyTail];
    for (const mount of mounts) {
      expect(() => mount(logger, {} as never)).toThrow(ActionLogConfigError);
      expect(() => mount(logger, {} as never)).toThrow(
        'Invalid actionlog tail route options: authorize: is required: a function saying whether the request may read the trail',
      );
    }
    await logger.close();
  });
});
