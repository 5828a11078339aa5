import 'reflect-metadata';
import { Body, Controller, Get, Module, Param, Post, VersioningType } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from 'actionlog';
import { ActionLogModule } from 'actionlog/nestjs';
import { NEST_PLATFORMS, startNest } from '../../support/nest.js';

@Controller('orders')
class OrdersController {
  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }

  @Get(':id')
  find(@Param('id') id: string): string {
    return id;
  }
}

function appModule(store: MemoryStore) {
  @Module({ imports: [ActionLogModule.forRoot({ store, flushIntervalMs: 10 })], controllers: [OrdersController] })
  class AppModule {}
  return AppModule;
}

describe.each(NEST_PLATFORMS)('requests Nest refuses before the handler, on %s', (platform) => {
  it("a body Nest's JSON parser refuses (400) has its document, with the request id echoed", async () => {
    const store = new MemoryStore();
    const nest = await startNest(appModule(store), platform);
    const reply = await nest.client.send('/orders', { method: 'POST', body: '{"broken', headers: { 'content-type': 'application/json' } });
    await nest.close();
    expect(reply.status).toBe(400);
    expect(reply.headers['x-request-id']).toBeDefined();
    expect(store.requests().map((d) => [d.request_uuid, d.details.request?.method, d.details.response?.status_code])).toEqual([
      [reply.headers['x-request-id'], 'POST', 400],
    ]);
  });
});

describe('Express middleware the application adds in main.ts', () => {
  it('a request answered by app.use() middleware (a rate limiter) has its document', async () => {
    const store = new MemoryStore();
    let limited = false;
    // As main.ts does between NestFactory.create() and listen(): helmet, cors, a rate limiter...
    const nest = await startNest(appModule(store), 'express', 64, (app) => {
      app.use((_req: unknown, res: { statusCode: number; end(body: string): void }, next: () => void) => {
        if (!limited) {
          next();
          return;
        }
        res.statusCode = 429;
        res.end('slow down');
      });
    });
    const ok = await nest.client.send('/orders/1');
    limited = true;
    const refused = await nest.client.send('/orders/2');
    await nest.close();
    expect([ok.status, refused.status]).toEqual([200, 429]);
    expect(store.requests().map((d) => [d.details.request?.url, d.details.response?.status_code])).toEqual([
      ['/orders/1', 200],
      ['/orders/2', 429],
    ]);
  });
});

describe.each(NEST_PLATFORMS)('the module of a request under a global prefix and URI versioning, on %s', (platform) => {
  it("is the controller's path, not the prefix every route shares", async () => {
    const store = new MemoryStore();
    const nest = await startNest(appModule(store), platform, 64, (app) => {
      app.setGlobalPrefix('api');
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
    });
    const reply = await nest.client.send('/api/v1/orders/7');
    await nest.close();
    expect(reply.status).toBe(200);
    expect(store.requests().map((d) => [d.details.request?.route, d.module])).toEqual([['/api/v1/orders/:id', 'orders']]);
  });
});
