import 'reflect-metadata';
import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Inject,
  Injectable,
  type MiddlewareConsumer,
  Module,
  type NestMiddleware,
  type NestModule,
  NotFoundException,
  Param,
  type PipeTransform,
  UseFilters,
} from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ActionLogClosedError, ActionLogger, createActionLogger, MemoryStore } from 'actionlog';
import { ActionLogModule } from 'actionlog/nestjs';
import { NEST_PLATFORMS, startNest } from '../../support/nest.js';

/** Nest middleware that records, as an audit of access might. */
@Injectable()
class AccessMiddleware implements NestMiddleware {
  constructor(@Inject(ActionLogger) private readonly logger: ActionLogger) {}

  use(_req: unknown, _res: unknown, next: () => void): void {
    this.logger.record({ action: 'accessed' });
    next();
  }
}

@Controller('health')
class HealthController {
  @Get()
  check(): string {
    return 'ok';
  }
}

function appModule(store: MemoryStore, http?: object | false) {
  @Module({
    imports: [ActionLogModule.forRoot({ store, flushIntervalMs: 10, ...(http === undefined ? {} : { http }) })],
    controllers: [HealthController],
  })
  class AppModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(AccessMiddleware).forRoutes(HealthController);
    }
  }
  return AppModule;
}

describe('the request scope in Nest', () => {
  it('on Express, Nest middleware records into the request document too', async () => {
    const store = new MemoryStore();
    const nest = await startNest(appModule(store), 'express');
    const reply = await nest.client.send('/health');
    await nest.close();
    const [doc] = store.requests();
    expect(store.requests()).toHaveLength(1);
    expect(doc!.request_uuid).toBe(reply.headers['x-request-id']);
    expect(doc!.module).toBe('health');
    expect(doc!.details.actions.map((a) => a.action_type)).toEqual(['accessed']);
  });

  it('on Fastify, Nest middleware runs before the scope opens: what it records is a document of its own', async () => {
    const store = new MemoryStore();
    const nest = await startNest(appModule(store), 'fastify');
    const reply = await nest.client.send('/health');
    await nest.close();
    const request = store.requests().find((d) => d.details.request);
    const standalone = store.requests().find((d) => !d.details.request);
    expect(request!.request_uuid).toBe(reply.headers['x-request-id']);
    expect(request!.details.actions).toEqual([]);
    expect(standalone!.details.actions.map((a) => a.action_type)).toEqual(['accessed']);
  });

  it('takes the options of the middleware, and opens no scope with http: false', async () => {
    const store = new MemoryStore();
    const named = await startNest(appModule(store, { module: 'ops', requestIdHeader: 'x-trace' }), 'fastify');
    const reply = await named.client.send('/health');
    await named.close();
    expect(store.requests().find((d) => d.details.request)).toMatchObject({ module: 'ops', request_uuid: reply.headers['x-trace'] });

    const off = new MemoryStore();
    const bare = await startNest(appModule(off, false), 'express');
    const plain = await bare.client.send('/health');
    await bare.close();
    expect(plain.headers['x-request-id']).toBeUndefined();
    expect(off.requests().map((d) => d.details.request)).toEqual([null]);
  });
});

@Injectable()
class RecordingPipe implements PipeTransform<string, string> {
  constructor(@Inject(ActionLogger) private readonly logger: ActionLogger) {}

  transform(value: string): string {
    this.logger.record({ action: 'parsed' });
    return value;
  }
}

@Catch(NotFoundException)
class RecordingFilter implements ExceptionFilter {
  constructor(@Inject(ActionLogger) private readonly logger: ActionLogger) {}

  catch(error: NotFoundException, host: ArgumentsHost): void {
    this.logger.record({ action: 'not_found' });
    const res = host
      .switchToHttp()
      .getResponse<{ status?: (code: number) => { send(body: unknown): void }; code?: (code: number) => { send(body: unknown): void } }>();
    // Express answers with status(), Fastify with code().
    (res.code ?? res.status)!.call(res, 404).send({ missing: error.message });
  }
}

@Controller('things')
class ThingsController {
  @Get(':id')
  @UseFilters(RecordingFilter)
  find(@Param('id', RecordingPipe) id: string): never {
    throw new NotFoundException(`no thing ${id}`);
  }
}

describe.each(NEST_PLATFORMS)('the request scope on %s', (platform) => {
  it('holds pipes and exception filters', async () => {
    const store = new MemoryStore();
    @Module({ imports: [ActionLogModule.forRoot({ store, flushIntervalMs: 10 })], controllers: [ThingsController] })
    class AppModule {}
    const nest = await startNest(AppModule, platform);
    const reply = await nest.client.send('/things/7');
    await nest.close();
    expect(reply.status).toBe(404);
    expect(store.requests()).toHaveLength(1);
    expect(store.requests()[0]!.details.actions.map((a) => a.action_type)).toEqual(['parsed', 'not_found']);
  });
});

describe('ActionLogModule.forRootAsync', () => {
  it("builds the logger from what its imports provide, and from a factory's own logger", async () => {
    const SETTINGS = Symbol('settings');
    @Module({ providers: [{ provide: SETTINGS, useValue: { module: 'configured' } }], exports: [SETTINGS] })
    class SettingsModule {}
    const store = new MemoryStore();
    @Module({
      imports: [
        ActionLogModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SETTINGS],
          useFactory: (settings: { module: string }) => ({ store, module: settings.module }),
        }),
      ],
    })
    class AppModule {}
    const nest = await startNest(AppModule, 'express');
    await nest.app.get(ActionLogger).run({}, () => undefined);
    await nest.close();
    expect(store.requests().map((d) => d.module)).toEqual(['configured']);

    const own = createActionLogger({ store: new MemoryStore() });
    @Module({ imports: [ActionLogModule.forRootAsync({ useFactory: () => Promise.resolve(own) })] })
    class OwnLoggerModule {}
    const second = await startNest(OwnLoggerModule, 'fastify');
    expect(second.app.get(ActionLogger)).toBe(own);
    await second.close();
    // Closing the application closed it.
    expect(() => own.record({ action: 'late' })).toThrow(ActionLogClosedError);
  });
});
