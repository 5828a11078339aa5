import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type RequestDocument } from 'actionlog';
import { type HttpOptions, moduleOfRoute } from 'actionlog/adapter-kit';
import { FRAMEWORKS, HttpError, type Handler, type RunningApp, startApp } from '../support/apps.js';
import { Client } from '../support/client.js';
import { orderChange } from '../../examples/shared/orders.js';
import { SpyStore } from '../support/stores.js';

function change(id: string, action: 'Created' | 'Updated' = 'Created') {
  return action === 'Created'
    ? orderChange(id, { action, old_object: null, new_object: { _id: id, status: 'new' } })
    : orderChange(id, { old_object: { _id: id, status: 'new' }, new_object: { _id: id, status: 'paid' } });
}

describe.each(FRAMEWORKS)('%s middleware', (framework) => {
  let app: RunningApp | undefined;
  let client: Client | undefined;
  let logger: ActionLogger | undefined;

  afterEach(async () => {
    client?.close();
    await app?.close();
    await logger?.close();
    app = client = logger = undefined;
  });

  async function start(
    routes: Record<string, Handler>,
    options: HttpOptions<never> = {},
    extra: { before?: () => void; store?: MemoryStore; onError?: (error: Error) => void } = {},
  ) {
    const store = extra.store ?? new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 5, ...(extra.onError ? { onError: extra.onError } : {}) });
    app = await startApp(framework, { logger, routes, options, before: extra.before });
    client = new Client(app.url);
    return { store, logger, client };
  }

  async function stored(store: MemoryStore): Promise<RequestDocument[]> {
    await logger!.flush();
    return store.requests();
  }

  it('stores one document per request with its request and response details', async () => {
    const { store, logger, client } = await start({
      'POST /orders/:id': async ({ params }) => {
        logger.recordModelChange(change(params.id!));
        return { status: 201, body: { id: params.id } };
      },
    });
    const reply = await client.send('/orders/7?view=full', {
      method: 'POST',
      body: { item: 'book' },
      headers: { 'user-agent': 'spec/1', 'x-user': 'u1' },
    });
    expect(reply.status).toBe(201);
    const [doc, ...rest] = await stored(store);
    expect(rest).toHaveLength(0);
    expect(reply.headers['x-request-id']).toBe(doc!.request_uuid);
    expect(doc!.request_uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(doc!.module).toBe('orders');
    expect(doc!.timestamp).toBeInstanceOf(Date);
    expect(doc!.details.request).toMatchObject({
      method: 'POST',
      url: '/orders/7?view=full',
      route: '/orders/:id',
      user_agent: 'spec/1',
      body: { item: 'book' },
      user_details: { lookup_from: 'users', _id: 'u1', label: 'User u1', email: 'u1@example.test' },
    });
    expect(doc!.details.request!.ip).toMatch(/127\.0\.0\.1/);
    expect(doc!.details.response).toMatchObject({ status_code: 201, aborted: false });
    expect(doc!.details.response!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(doc!.details.model_logs.map((m) => [m.model_id, m.action, m.model_details.changed_fields])).toEqual([
      ['7', 'Created', ['_id', 'status']],
    ]);
  });

  it('keeps a valid X-Request-Id, replaces an invalid one, and takes the correlation id from traceparent', async () => {
    const { store, client } = await start({ 'GET /ping': async () => ({}) });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const ok = await client.send('/ping', {
      headers: { 'x-request-id': 'req-123.abc:9', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const bad = await client.send('/ping', { headers: { 'x-request-id': 'has spaces/and slashes' } });
    const explicit = await client.send('/ping', {
      headers: { 'x-correlation-id': 'corr-1', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(ok.headers['x-request-id']).toBe('req-123.abc:9');
    expect(bad.headers['x-request-id']).not.toBe('has spaces/and slashes');
    const docs = await stored(store);
    const byId = new Map(docs.map((d) => [d.request_uuid, d]));
    expect(byId.get('req-123.abc:9')!.correlation_id).toBe(traceId);
    expect(byId.get(bad.headers['x-request-id'] as string)!.correlation_id).toBeUndefined();
    expect(byId.get(explicit.headers['x-request-id'] as string)!.correlation_id).toBe('corr-1');
  });

  it('takes incoming ids only from whom trustIncomingIds names', async () => {
    const headers = { 'x-request-id': 'claimed-id', 'x-correlation-id': 'claimed-corr' };
    const never = await start({ 'GET /ping': async () => ({}) }, { trustIncomingIds: false });
    const untrusted = await never.client.send('/ping', { headers });
    expect(untrusted.headers['x-request-id']).not.toBe('claimed-id');
    const [doc] = await stored(never.store);
    expect(doc).toMatchObject({ request_uuid: untrusted.headers['x-request-id'] });
    expect(doc!.correlation_id).toBeUndefined();
    client?.close();
    await app?.close();
    await logger?.close();
    const proxies = await start({ 'GET /ping': async () => ({}) }, { trustIncomingIds: ['127.0.0.1'] });
    expect((await proxies.client.send('/ping', { headers })).headers['x-request-id']).toBe('claimed-id');
    expect((await stored(proxies.store))[0]).toMatchObject({ request_uuid: 'claimed-id', correlation_id: 'claimed-corr' });
  });

  it('captures JSON, urlencoded and text bodies parsed after the middleware', async () => {
    const { store, client } = await start({ 'POST /echo': async () => ({}) });
    await client.send('/echo', { method: 'POST', body: { a: 1, nested: { b: [1, 2] } } });
    await client.send('/echo', {
      method: 'POST',
      body: 'name=Ada&tags=x&tags=y',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await client.send('/echo', { method: 'POST', body: 'plain words', headers: { 'content-type': 'text/plain' } });
    const bodies = (await stored(store)).map((d) => d.details.request!.body);
    expect(bodies).toEqual([{ a: 1, nested: { b: [1, 2] } }, { name: 'Ada', tags: ['x', 'y'] }, 'plain words']);
  });

  it('never stores a secret from headers, query or body, and round-trips $ and dotted keys', async () => {
    const spy = new SpyStore();
    const { client } = await start({ 'POST /login': async () => ({}) }, {}, { store: spy });
    const secrets: string[] = ['s3cr3t-A', 's3cr3t-B', 's3cr3t-C', 's3cr3t-D', 's3cr3t-E', 's3cr3t-F', 's3cr3t-G', 's3cr3t-H', 's3cr3t-I'];
    const body = {
      user: 'ada',
      Password: secrets[0],
      profile: { apiKey: secrets[1], cards: [{ Credit_Card: secrets[2], CVV: secrets[3] }], userSSN: secrets[4] },
      'odd.key': { $where: 'kept' },
      className: 'not a secret',
    };
    await client.send(`/login?access_token=${secrets[5]}&page=2`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${secrets[6]}`, cookie: `sid=${secrets[7]}`, 'X-Client-Secret': secrets[8]! },
    });
    const [doc] = await stored(spy);
    const written = JSON.stringify(spy.batches);
    for (const secret of secrets) expect(written).not.toContain(secret);
    expect(written).toContain('odd%2Ekey');
    expect(written).toContain('%24where');
    expect(doc!.details.request!.url).toBe('/login?access_token=[REDACTED]&page=2');
    expect(doc!.details.request!.headers).toMatchObject({
      authorization: '[REDACTED]',
      cookie: '[REDACTED]',
      'x-client-secret': '[REDACTED]',
    });
    expect(doc!.details.request!.body).toEqual({
      user: 'ada',
      Password: '[REDACTED]',
      profile: { apiKey: '[REDACTED]', cards: [{ Credit_Card: '[REDACTED]', CVV: '[REDACTED]' }], userSSN: '[REDACTED]' },
      'odd.key': { $where: 'kept' },
      className: 'not a secret',
    });
  });

  it('stores the status code of a handler that throws', async () => {
    const { store, client } = await start({
      'GET /boom': async () => {
        throw new Error('boom');
      },
      'GET /teapot': async () => {
        throw new HttpError(418, 'short and stout');
      },
    });
    expect((await client.send('/boom')).status).toBe(500);
    expect((await client.send('/teapot')).status).toBe(418);
    const docs = await stored(store);
    expect(docs.map((d) => [d.details.request!.url, d.details.response!.status_code, d.details.response!.aborted])).toEqual([
      ['/boom', 500, false],
      ['/teapot', 418, false],
    ]);
  });

  it('puts events recorded after the response into the same document', async () => {
    let lateCount = 0;
    const { store, logger, client } = await start({
      'POST /orders/:id': async ({ params }) => {
        logger.recordModelChange(change(params.id!));
        setTimeout(() => {
          // Fire-and-forget work that outlives the response, long after the document went to the writer.
          logger.recordModelChange(change(params.id!, 'Updated'));
          logger.record({ action: 'notify_customer', target: { type: 'order', id: params.id! } });
          lateCount++;
        }, 60);
        return { status: 201 };
      },
    });
    const other = await client.send('/orders/2', { method: 'POST', body: {} });
    const reply = await client.send('/orders/1', { method: 'POST', body: {} });
    await logger.flush();
    await vi.waitFor(() => {
      expect(lateCount).toBe(2);
    });
    const docs = await stored(store);
    const mine = docs.find((d) => d.request_uuid === reply.headers['x-request-id'])!;
    expect(mine.details.model_logs.map((m) => [m.model_id, m.action])).toEqual([
      ['1', 'Created'],
      ['1', 'Updated'],
    ]);
    expect(mine.details.actions.map((a) => a.action_type)).toEqual(['notify_customer']);
    const theirs = docs.find((d) => d.request_uuid === other.headers['x-request-id'])!;
    expect(theirs.details.model_logs.map((m) => m.model_id)).toEqual(['2', '2']);
  });

  it('stores an aborted request with aborted: true, with what it recorded after the client left', async () => {
    let started!: () => void;
    let finished!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const handlerDone = new Promise<void>((resolve) => (finished = resolve));
    const { store, logger, client } = await start({
      'GET /slow/:id': async ({ params }) => {
        logger.recordModelChange(change(params.id!));
        started();
        await sleep(150);
        logger.recordModelChange(change(params.id!, 'Updated'));
        finished();
        return {};
      },
    });
    // Leaving once the handler runs: a fixed delay could leave before the framework dispatched the request.
    await client.abort('/slow/9', handlerStarted);
    await handlerDone;
    await sleep(20);
    const [doc, ...rest] = await stored(store);
    expect(rest).toHaveLength(0);
    expect(doc!.details.response!.aborted).toBe(true);
    expect(doc!.details.model_logs.map((m) => m.action)).toEqual(['Created', 'Updated']);
  });

  it('defaults the actor of actions to the request user set by auth after the middleware', async () => {
    const { store, logger, client } = await start({
      'POST /approve/:id': async ({ params }) => {
        logger.record({
          action: { type: 'approve', category: 'loans' },
          target: { type: 'loan', id: params.id!, name: `Loan #${params.id}` },
        });
        return {};
      },
    });
    await client.send('/approve/981', { method: 'POST', body: {}, headers: { 'x-user': 'u42' } });
    const [doc] = await stored(store);
    expect(doc!.details.actions[0]).toMatchObject({
      action_type: 'approve',
      action_category: 'loans',
      actor_id: 'u42',
      actor: { ref: 'u42', type: 'user', name: 'User u42' },
      target_type: 'loan',
      target_id: '981',
    });
    expect(store.actions()[0]).toMatchObject({ action_type: 'approve', request_uuid: doc!.request_uuid, module: 'approve' });
  });

  it('honours skip, a fixed module and a module function', async () => {
    const routes = { 'GET /health': async () => ({}), 'GET /orders/:id': async () => ({}) };
    const { store, client } = await start(routes, {
      skip: (req: { url?: string }) => String(req.url).startsWith('/health'),
      module: 'shop',
    });
    await client.send('/health');
    await client.send('/orders/1');
    const docs = await stored(store);
    expect(docs.map((d) => [d.details.request!.url, d.module])).toEqual([['/orders/1', 'shop']]);
  });

  it('fails neither the request nor its document when the user option or the module function throws: both reported', async () => {
    const errors: Error[] = [];
    const { store, logger, client } = await start(
      {
        'POST /approve/:id': async ({ params }) => {
          // Each reads the scope's user, as every action does.
          logger.record({ action: 'approve', target: { type: 'loan', id: params.id! } });
          logger.record({ action: 'approve', target: { type: 'loan', id: params.id! } });
          return { status: 201 };
        },
      },
      {
        user: (req: { account: { id: string } }) => req.account.id,
        module: () => {
          throw new Error('no module today');
        },
      },
      { onError: (error) => errors.push(error) },
    );
    const reply = await client.send('/approve/5', { method: 'POST', body: {} });
    expect(reply.status).toBe(201);
    const [doc, ...rest] = await stored(store);
    expect(rest).toHaveLength(0);
    expect(doc).toMatchObject({ module: 'approve', details: { request: { user_details: null }, response: { status_code: 201 } } });
    expect(doc!.details.actions.map((a) => a.action_type)).toEqual(['approve', 'approve']);
    const messages = errors.map((e) => e.message);
    expect(messages).toContain('no module today');
    // Told once for the request, however often its user is read.
    expect(messages.filter((m) => /reading 'id'/.test(m))).toHaveLength(1);
  });

  it('keeps 2000 concurrent interleaved requests on reused sockets apart', async () => {
    let leaks = 0;
    const steps = 3;
    const { store, logger } = await start(
      {
        'POST /work/:tag': async ({ params, body }) => {
          const tag = params.tag!;
          for (let i = 0; i < steps; i++) {
            await sleep(Math.random() * 4);
            logger.recordModelChange(change(`${tag}:${i}`));
            await Promise.resolve();
            logger.record({ action: 'work_step', target: { type: 'work', id: tag }, context: { i, echo: (body as { tag: string }).tag } });
          }
          return { body: { tag } };
        },
      },
      {},
      {
        before: () => {
          if (logger.current()) leaks++;
        },
      },
    );
    const busy = new Client(app!.url, 32);
    const n = 2000;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) => busy.send(`/work/t${i}`, { method: 'POST', body: { tag: `t${i}` } }).then((r) => ({ i, r }))),
    );
    busy.close();
    expect(replies.every(({ r }) => r.status === 200)).toBe(true);
    expect(app!.connections()).toBeLessThanOrEqual(64);
    const docs = await stored(store);
    expect(docs).toHaveLength(n);
    expect(leaks).toBe(0);
    const byUuid = new Map(docs.map((d) => [d.request_uuid, d]));
    for (const { i, r } of replies) {
      const doc = byUuid.get(r.headers['x-request-id'] as string)!;
      const tag = `t${i}`;
      expect(doc.details.request!.url).toBe(`/work/${tag}`);
      expect(doc.details.model_logs.map((m) => m.model_id)).toEqual(Array.from({ length: steps }, (_, s) => `${tag}:${s}`));
      expect(doc.details.actions.map((a) => [a.target_id, a.context])).toEqual(
        Array.from({ length: steps }, (_, s) => [tag, { i: s, echo: tag }]),
      );
    }
  });
});

describe('the module of a request, from its route', () => {
  it.each([
    ['/orders/:id', 'orders'],
    ['/orders{/:id}', 'orders'],
    ['/{:lang/}docs', 'docs'],
    ['/{*any}', 'app'],
    ['/*splat', 'app'],
    ['/:id', 'app'],
    [null, 'app'],
  ])('%s → %s', (route, module) => {
    expect(moduleOfRoute(route)).toBe(module);
  });

  it('reads Express 5 optional groups and wildcards from real routes', async () => {
    const store = new MemoryStore();
    const routed = createActionLogger({ store, flushIntervalMs: 0 });
    const server = await startApp('express', {
      logger: routed,
      routes: { 'GET /orders{/:id}': async () => ({}), 'GET /{*any}': async () => ({}) },
    });
    const http = new Client(server.url);
    await http.send('/orders');
    await http.send('/orders/7');
    await http.send('/something/else');
    await routed.flush();
    expect(store.requests().map((d) => [d.details.request!.route, d.module])).toEqual([
      ['/orders{/:id}', 'orders'],
      ['/orders{/:id}', 'orders'],
      ['/{*any}', 'app'],
    ]);
    http.close();
    await server.close();
    await routed.close();
  });
});
