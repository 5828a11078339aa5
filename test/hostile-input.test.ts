import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActionLogValidationError,
  type ActionLogger,
  createActionLogger,
  MemoryStore,
  type SortOrder,
  type Store,
  type StoreFilter,
} from 'actionlog';
import { actionLog } from 'actionlog/express';
import { orderChange } from '../examples/shared/orders.js';
import { type RunningApp, startApp } from './support/apps.js';
import { Client } from './support/client.js';
import { unlistable, withThrowingGetter } from './support/hostile-values.js';
import { type OpenedStore, openStore, STORE_KINDS } from './support/every-store.js';
import { all as entries } from './support/store-contract.js';

const requestsOf = (store: Store, filter: StoreFilter = {}, order: SortOrder = 'desc') => entries(store, 'requests', filter, order);

/** All request documents of a store, oldest first. */
const all = (store: Store) => requestsOf(store, {}, 'asc');

describe.each(STORE_KINDS)('hostile input, on the %s store', (kind) => {
  let opened: OpenedStore;
  let logger: ActionLogger;
  let app: RunningApp;
  let client: Client;
  const errors: Error[] = [];

  beforeAll(async () => {
    opened = await openStore(kind);
    logger = createActionLogger({
      store: opened.store,
      flushIntervalMs: 60_000,
      batchSize: 1000,
      retryDelayMs: 10,
      maxRetryDelayMs: 50,
      onError: (e) => errors.push(e),
      describeUser: (user) => user as never,
    });
    app = await startApp('express', {
      logger,
      routes: {
        'POST /comments': async ({ body }) => {
          logger.recordModelChange(orderChange('c1', { new_object: { _id: 'c1', body: body as Record<string, unknown> } }));
          return { status: 201 };
        },
        'POST /later/:id': async ({ params }) => {
          // Fire-and-forget work that outlives the response, inside the request's scope.
          setTimeout(() => {
            logger.recordModelChange(orderChange(`late-${params.id}`));
          }, 30);
          return { status: 202 };
        },
      },
    });
    client = new Client(app.url);
  });
  afterAll(async () => {
    client.agent.destroy();
    await app.close();
    await logger.close();
    await opened.close();
  });

  it('stores a body holding U+0000 and unpaired surrogates, and every other request of its batch', async () => {
    const sends = Array.from({ length: 20 }, (_, i) =>
      client.send('/comments', {
        method: 'POST',
        headers: { 'x-request-id': `poison-${i}` },
        body: i === 7 ? '{"comment":"a\\u0000b","lone":"\\ud800x","k\\u0000ey":1}' : { comment: `fine ${i}` },
      }),
    );
    expect((await Promise.all(sends)).map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 201));
    await logger.flush();
    const docs = (await all(opened.store)).filter((d) => d.request_uuid.startsWith('poison-'));
    expect(docs).toHaveLength(20);
    const poisoned = docs.find((d) => d.request_uuid === 'poison-7')!;
    expect(poisoned.details.request!.body).toEqual({ comment: 'a\uFFFDb', lone: '\uFFFDx', 'k\uFFFDey': 1 });
    expect(logger.stats()).toMatchObject({ dropped: 0, quarantined: 0 });
  });

  it('keeps two requests that send the same X-Request-Id as two documents, each with its own late events', async () => {
    const same = { 'x-request-id': 'reused-id' };
    await Promise.all([
      client.send('/later/a', { method: 'POST', headers: same }),
      client.send('/later/b', { method: 'POST', headers: same }),
    ]);
    await logger.flush();
    await sleep(60);
    await client.send('/later/c', { method: 'POST', headers: same });
    await sleep(60);
    await logger.flush();
    const docs = (await requestsOf(store(), { request_uuid: 'reused-id' }, 'asc')).map((d) => d.details.model_logs.map((m) => m.model_id));
    expect(docs.sort()).toEqual([['late-a'], ['late-b'], ['late-c']]);
    expect(logger.stats().dropped).toBe(0);
  });

  it('stores changes too deep or circular with markers, never failing their batch', async () => {
    let deep: Record<string, unknown> = { leaf: 'bottom' };
    for (let i = 0; i < 20_000; i++) deep = { next: deep };
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    await logger.run({ requestUuid: 'deep-and-circular' }, () => {
      logger.recordModelChange(
        orderChange('deep', { old_object: { _id: 'deep', tree: deep }, new_object: { _id: 'deep', tree: { changed: true } } }),
      );
      logger.recordModelChange(
        orderChange('circular', { old_object: null, action: 'Created', new_object: { _id: 'circular', data: circular } }),
      );
    });
    await logger.run({ requestUuid: 'beside-them' }, () => {
      logger.recordModelChange(orderChange('plain'));
    });
    await logger.flush();
    const [doc] = await requestsOf(store(), { request_uuid: 'deep-and-circular' });
    const [deepLog, circularLog] = doc!.details.model_logs;
    expect(JSON.stringify(deepLog!.model_details.old_object)).toContain('[Truncated: max depth]');
    expect(deepLog!.model_details.changed_fields).toEqual(['tree.next', 'tree.changed']);
    expect(circularLog!.model_details.new_object).toEqual({ _id: 'circular', data: { name: 'loop', self: '[Circular]' } });
    expect(await requestsOf(store(), { request_uuid: 'beside-them' })).toHaveLength(1);
  });

  it('stores a change whose state has a getter that throws, marking that member, and every other request of its batch', async () => {
    const withBadGetter = (status: string) => withThrowingGetter({ _id: 'getter', status }, 'total', 'not loaded');
    await logger.run({ requestUuid: 'throwing-getter' }, () => {
      logger.recordModelChange(orderChange('getter', { old_object: withBadGetter('new'), new_object: withBadGetter('paid') }));
      // A proxy that cannot even list its keys: stored as one marker.
      logger.recordModelChange(orderChange('proxy', { old_object: { _id: 'proxy' }, new_object: unlistable() }));
    });
    await logger.run({ requestUuid: 'beside-the-getter' }, () => {
      logger.recordModelChange(orderChange('plain'));
    });
    await logger.flush();
    const [doc] = await requestsOf(store(), { request_uuid: 'throwing-getter' });
    const [getterLog, proxyLog] = doc!.details.model_logs;
    expect(getterLog!.model_details).toMatchObject({
      old_object: { _id: 'getter', status: 'new', total: '[Unreadable]' },
      new_object: { _id: 'getter', status: 'paid', total: '[Unreadable]' },
      changed_fields: ['status'],
    });
    expect(proxyLog!.model_details).toMatchObject({ new_object: '[Unserializable]', changed_fields: ['_id'] });
    expect(await requestsOf(store(), { request_uuid: 'beside-the-getter' })).toHaveLength(1);
  });

  it('refuses an action field past its length limit by name, and keeps what was recorded before', async () => {
    await logger.run({ requestUuid: 'long-name' }, () => {
      logger.record({ action: 'export', target: { type: 'report', id: 1 } });
      const tooLong = () => logger.record({ action: 'export', target: { type: 'report', id: 2, name: 'x'.repeat(17 * 1024 * 1024) } });
      expect(tooLong).toThrow(ActionLogValidationError);
      expect(tooLong).toThrow(/target\.name: must be at most 1000 characters/);
    });
    await logger.flush();
    const [doc] = await requestsOf(store(), { request_uuid: 'long-name' });
    expect(doc!.details.actions.map((a) => a.target_id)).toEqual(['1']);
  });

  it('keeps only the documented fields of whatever describes the user, sanitized', async () => {
    const hostile = {
      lookup_from: 'users',
      _id: 'u\u00001',
      label: 'Eve',
      passwordHash: 'x',
      $where: 'sleep(1)',
      'a.b': 1,
      email: 'eve@example.test',
    };
    await logger.run({ requestUuid: 'hostile-user', user: hostile }, () => undefined);
    await logger.flush();
    const [doc] = await requestsOf(store(), { request_uuid: 'hostile-user' });
    expect(doc!.details.run!.user_details).toEqual({ lookup_from: 'users', _id: 'u\uFFFD1', label: 'Eve', email: 'eve@example.test' });
  });

  function store(): Store {
    return opened.store;
  }
});

describe('hostile input, cost', () => {
  it('does not walk a 500 000-key body to build its document: its content-length says it is far too big', async () => {
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 60_000 });
    const app = express();
    app.use(actionLog(logger));
    // An app that accepts large bodies: what the audit of one costs must not depend on its size.
    app.use(express.json({ limit: '50mb' }));
    // Every look into the parsed body after the route (listing its keys, reading a value) is counted.
    let looks = 0;
    app.post('/bulk', (req, res) => {
      req.body = new Proxy(req.body as object, {
        ownKeys(target) {
          looks++;
          return Reflect.ownKeys(target);
        },
        get(target, key) {
          looks++;
          return Reflect.get(target, key) as unknown;
        },
      });
      res.json({ ok: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const body: Record<string, number> = {};
    for (let i = 0; i < 500_000; i++) body[`k${i}`] = i;
    expect((await client.send('/bulk', { method: 'POST', body })).status).toBe(200);
    await logger.flush();
    const [doc] = store.requests();
    expect(doc!.details.request!.body).toEqual({ _truncated: true, _size_bytes: expect.any(Number) as number, _preview: '' });
    expect((doc!.details.request!.body as { _size_bytes: number })._size_bytes).toBeGreaterThan(8_000_000);
    expect(looks).toBe(0);
    client.agent.destroy();
    server.close();
    await logger.close();
  });
});
