import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createActionLogger, MemoryStore } from 'actionlog';
import { type NodeRequest, withActionLog } from '../../examples/node-http/adapter.js';
import { orderChange } from '../../examples/shared/orders.js';
import { Client } from '../support/client.js';

// The README's "Write your own adapter" section shows this file; a snippet in the README is a promise.
const ADAPTER = new URL('../../examples/node-http/adapter.ts', import.meta.url);
const README = new URL('../../README.md', import.meta.url);

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (server)
      server.close(() => {
        resolve();
      });
    else resolve();
  });
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<Client> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

describe('an adapter written with the kit (node:http, as in the README)', () => {
  it('stores one document per request, with the request, the user, the response and the changes made in it', async () => {
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    // The body is read with `for await`: the code after each await stays in the request's scope (a 'data' listener
    // would run in the scope of whoever emits the event: see the README's Security section).
    const handler = async (req: NodeRequest, res: ServerResponse) => {
      let raw = '';
      for await (const chunk of req) raw += (chunk as Buffer).toString();
      req.body = JSON.parse(raw) as unknown;
      req.user = { id: 'u7', name: 'Ada' };
      await new Promise((resolve) => setImmediate(resolve));
      logger.recordModelChange(orderChange('42'));
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
    };
    const client = await serve(withActionLog(logger, (req, res) => void handler(req, res), { module: 'orders' }));

    const reply = await client.send('/orders/42?token=secret', {
      method: 'POST',
      body: { note: 'rush', password: 'hunter2' },
      headers: { 'x-request-id': 'req-7' },
    });
    expect(reply.status).toBe(201);
    expect(reply.headers['x-request-id']).toBe('req-7');
    await logger.flush();

    const [doc] = store.requests();
    expect(store.requests()).toHaveLength(1);
    expect(doc).toMatchObject({
      request_uuid: 'req-7',
      module: 'orders',
      details: {
        request: {
          method: 'POST',
          url: '/orders/42?token=[REDACTED]',
          route: null,
          ip: '127.0.0.1',
          body: { note: 'rush', password: '[REDACTED]' },
          user_details: { lookup_from: 'users', _id: 'u7', label: 'Ada' },
        },
        response: { status_code: 201, aborted: false },
        model_logs: [{ model: 'orders', model_id: '42', action: 'Updated', model_details: { changed_fields: ['status'] } }],
      },
    });
    client.agent.destroy();
    await logger.close();
  });

  it('keeps concurrent requests apart, and skips what `skip` says', async () => {
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    const handler = (req: NodeRequest, res: ServerResponse) => {
      if (req.url === '/health') return void res.end('ok');
      const id = (req.url ?? '').split('/')[2] ?? '';
      setTimeout(() => {
        logger.recordModelChange(orderChange(id));
        res.end('ok');
      }, Math.random() * 5);
    };
    const client = await serve(withActionLog(logger, handler, { skip: (req) => req.url === '/health' }));

    await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => client.send(`/orders/${i}`, { headers: { 'x-request-id': `r-${i}` } })),
      client.send('/health'),
    ]);
    await logger.flush();

    const docs = store.requests();
    expect(docs).toHaveLength(50);
    for (const doc of docs) {
      expect(doc.module).toBe('app');
      expect(doc.details.model_logs.map((m) => m.model_id)).toEqual([doc.request_uuid.slice(2)]);
    }
    client.agent.destroy();
    await logger.close();
  });

  it('is the code the README shows', () => {
    const readme = readFileSync(README, 'utf8');
    const section = readme.slice(readme.indexOf('## Write your own adapter'));
    const shown = /```ts file=adapter.ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(shown).toBe(readFileSync(ADAPTER, 'utf8'));
  });
});
