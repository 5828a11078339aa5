import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type ActionLogger, ActionLogStoreError, createActionLogger } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { orderChange } from '../../examples/shared/orders.js';
import { FRAMEWORKS, type Handler, type RunningApp, startApp } from '../support/apps.js';
import { Client } from '../support/client.js';
import { spoolLines } from '../support/spool-files.js';
import { FlakyStore, OutageStore } from '../support/stores.js';

const created = (id: string) => orderChange(id, { action: 'Created', old_object: null, new_object: { _id: id, status: 'new' } });

describe.each(FRAMEWORKS)('%s under the failure policy "throw"', (framework) => {
  let app: RunningApp | undefined;
  let client: Client | undefined;
  let logger: ActionLogger | undefined;
  const errors: Error[] = [];

  afterEach(async () => {
    client?.close();
    await app?.close();
    await logger?.close();
    app = client = logger = undefined;
    errors.length = 0;
  });

  async function start(routes: Record<string, Handler>) {
    const store = new FlakyStore();
    // A long interval: anything stored by the time the response arrives was stored on the request's path.
    logger = createActionLogger({ store, onStoreError: 'throw', flushIntervalMs: 60_000, retryDelayMs: 1, onError: (e) => errors.push(e) });
    app = await startApp(framework, { logger, routes });
    client = new Client(app.url);
    return { store, logger, client };
  }

  const routes: Record<string, Handler> = {
    'POST /orders/:id': async ({ params }) => {
      logger!.recordModelChange(created(params.id!));
      return { status: 201, body: { id: params.id } };
    },
  };

  it('stores the document before the response is sent', async () => {
    const { store, client } = await start(routes);
    const reply = await client.send('/orders/1', { method: 'POST', body: { item: 'book' } });
    expect(reply.status).toBe(201);
    expect(reply.json()).toEqual({ id: '1' });
    // No flush: the document was stored before the client got its answer.
    const [doc, ...rest] = store.requests();
    expect(rest).toEqual([]);
    expect(doc!.request_uuid).toBe(reply.headers['x-request-id']);
    expect(doc!.module).toBe('orders');
    expect(doc!.details.response).toMatchObject({ status_code: 201, aborted: false });
    expect(doc!.details.request).toMatchObject({ method: 'POST', route: '/orders/:id', body: { item: 'book' } });
    expect(doc!.details.model_logs.map((l) => [l.model_id, l.action])).toEqual([['1', 'Created']]);
  });

  it('answers 500 when the document cannot be stored, and stores it later as the answer the client got', async () => {
    const { store, logger, client } = await start(routes);
    store.failNext(1);
    const reply = await client.send('/orders/2', { method: 'POST', body: { item: 'pen' } });
    expect(reply.status).toBe(500);
    expect(reply.json()).toEqual({ error: 'ActionLogStoreError', message: 'The audit entry of this request could not be stored.' });
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    const requestUuid = reply.headers['x-request-id'];
    expect(requestUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(store.requests()).toEqual([]);
    expect(errors.some((e) => e instanceof ActionLogStoreError)).toBe(true);
    // What the request changed may be committed: its document is still owed to the trail, and retried.
    await logger.flush();
    const [doc, ...rest] = store.requests();
    expect(rest).toEqual([]);
    expect(doc!.request_uuid).toBe(requestUuid);
    expect(doc!.details.response).toMatchObject({ status_code: 500, aborted: false });
    expect(doc!.details.model_logs.map((l) => [l.model_id, l.action])).toEqual([['2', 'Created']]);
    expect(logger.stats()).toMatchObject({ recorded: 1, stored: 1, dropped: 0 });
  });

  it('keeps serving: after a failed write, the next request is stored and answered as usual', async () => {
    const { store, client } = await start(routes);
    store.failNext(1);
    const [failed, ok] = [await client.send('/orders/3', { method: 'POST' }), await client.send('/orders/4', { method: 'POST' })];
    expect([failed.status, ok.status]).toEqual([500, 201]);
    expect(store.requests().map((d) => d.details.model_logs[0]?.model_id)).toContain('4');
  });
});

describe('a streamed response under the failure policy "throw"', () => {
  it('is cut when its document cannot be stored, so that the client never takes it for a success', async () => {
    const store = new FlakyStore();
    const logger = createActionLogger({ store, onStoreError: 'throw', retryDelayMs: 1, onError: () => {} });
    const app = express();
    app.use(actionLog(logger));
    app.get('/report', (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.write('first part, ');
      setTimeout(() => res.end('last part'), 10);
    });
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/report`;
    try {
      const whole = await fetch(url).then((r) => r.text());
      expect(whole).toBe('first part, last part');
      store.failNext(1);
      // Headers and the first part went out; the end never does: the body cannot be read to its end.
      const reply = await fetch(url);
      expect(reply.status).toBe(200);
      await expect(reply.text()).rejects.toThrow();
      // Its document is still owed to the trail, and stored later.
      await logger.flush();
      expect(store.requests()).toHaveLength(2);
    } finally {
      server.closeAllConnections();
      server.close();
      await logger.close();
    }
  });
});

describe.each(FRAMEWORKS)('%s under the failure policy "spool"', (framework) => {
  it('sends each response once its document is in the spool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'actionlog-held-spool-'));
    // The store is away: every document goes to the spool and stays there.
    const logger = createActionLogger({ store: new OutageStore(), spool: { dir }, retryDelayMs: 1, onError: () => {} });
    const app = await startApp(framework, {
      logger,
      routes: {
        'POST /orders/:id': async ({ params }) => {
          logger.recordModelChange(created(params.id!));
          return { status: 201, body: { id: params.id } };
        },
      },
    });
    const client = new Client(app.url);
    try {
      const seen = await Promise.all(
        ['1', '2', '3', '4', '5'].map(async (id) => {
          const reply = await client.send(`/orders/${id}`, { method: 'POST', body: { item: 'book' } });
          // As the reply arrives, its document is in the spool.
          const lines = spoolLines(dir).filter((line) => line.includes(String(reply.headers['x-request-id'])));
          return { status: reply.status, body: reply.json(), spooled: lines.length };
        }),
      );
      expect(seen).toEqual(['1', '2', '3', '4', '5'].map((id) => ({ status: 201, body: { id }, spooled: 1 })));
      expect(logger.stats().spool).toMatchObject({ spooled: 5, dropped: 0 });
    } finally {
      client.close();
      await app.close();
      await logger.close({ timeout: 100 });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
