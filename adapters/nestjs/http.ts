import type { AbstractHttpAdapter } from '@nestjs/core';
import { ActionLogConfigError, type ActionLogger } from 'actionlog';
import type { HttpOptions } from 'actionlog/adapter-kit';
import { actionLog } from 'actionlog/express';
import { actionLogPlugin } from 'actionlog/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NestHttpRequest } from './options.js';

/** Whether the capture is mounted while Nest creates the application (Express), rather than in `configure()`. */
export function mountsAtCreation(adapter: AbstractHttpAdapter | undefined): boolean {
  // An application context without HTTP (a worker, a script) has no adapter.
  return adapter?.getType() === 'express';
}

/**
 * Opens the request scope on the platform the application runs on, before any route: on Express the middleware
 * (mounted while Nest creates the application, before its body parsers), on Fastify the plugin's hooks (`onRequest`, entered again in `preValidation`, since
 * Fastify parses bodies outside it). Guards, interceptors, pipes, the handler and exception filters run inside.
 */
export function mountHttpCapture(
  adapter: AbstractHttpAdapter | undefined,
  logger: ActionLogger,
  options: HttpOptions<NestHttpRequest> | false | undefined,
): void {
  // An application context without HTTP (a worker, a script) has no adapter.
  if (options === false || !adapter) return;
  const type = adapter.getType();
  if (type === 'express') {
    const app = adapter.getInstance<{ use(handler: ReturnType<typeof actionLog>): unknown }>();
    app.use(actionLog(logger, options));
  } else if (type === 'fastify') {
    const app = adapter.getInstance<FastifyInstance>();
    // Loaded ahead of the routes, which Nest registers next; a bad option fails the application's start.
    void app.register(actionLogPlugin, { ...(options as HttpOptions<FastifyRequest>), logger });
  } else {
    throw new ActionLogConfigError(
      [{ path: 'http', message: `Nest's "${type}" platform is not supported (Express and Fastify are): set http: false` }],
      'ActionLogModule options',
    );
  }
}
