import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ActionLogConfigError, createActionLogger, MemoryStore } from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { actionLogPlugin } from 'actionlog/fastify';

const change = (id: string): ModelChange => ({
  action: 'Created',
  model: 'steps',
  model_class_name: 'Step',
  model_namespace: 'app.steps',
  model_id: id,
  old_object: null,
  new_object: { id },
});

describe('fastify plugin', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('keeps the scope through onRequest, preValidation, preHandler and the handler, sync and async hooks alike', async () => {
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    const app = Fastify();
    closers.push(
      () => app.close(),
      () => logger.close(),
    );
    await app.register(actionLogPlugin, { logger });
    app.addHook('onRequest', (_req, _reply, done) => {
      logger.recordModelChange(change('onRequest'));
      done();
    });
    app.addHook('preParsing', async () => {
      logger.recordModelChange(change('preParsing'));
    });
    app.addHook('preValidation', async () => {
      await new Promise((r) => setTimeout(r, 2));
      logger.recordModelChange(change('preValidation'));
    });
    app.addHook('preHandler', (_req, _reply, done) => {
      logger.recordModelChange(change('preHandler'));
      done();
    });
    app.post('/steps', async (req) => {
      await new Promise((r) => setImmediate(r));
      logger.recordModelChange(change('handler'));
      return { got: req.body };
    });
    const res = await app.inject({ method: 'POST', url: '/steps', payload: { a: 1 } });
    expect(res.statusCode).toBe(200);
    await logger.flush();
    const [doc, ...rest] = store.requests();
    expect(rest).toHaveLength(0);
    expect(doc!.details.model_logs.map((m) => m.model_id)).toEqual(['onRequest', 'preParsing', 'preValidation', 'preHandler', 'handler']);
    expect(doc!.details.request!.route).toBe('/steps');
    expect(doc!.module).toBe('steps');
    expect(res.headers['x-request-id']).toBe(doc!.request_uuid);
  });

  it('refuses registration without a logger, with a typed error', async () => {
    const app = Fastify();
    closers.push(() => app.close());
    await expect(app.register(actionLogPlugin, {} as never).ready()).rejects.toBeInstanceOf(ActionLogConfigError);
  });
});
