import { VersioningType } from '@nestjs/common';
import type { AbstractHttpAdapter, ApplicationConfig } from '@nestjs/core';
import { ActionLogConfigError, type ActionLogger } from 'actionlog';
import { type HttpOptions, moduleOfRoute } from 'actionlog/adapter-kit';
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
  given: HttpOptions<NestHttpRequest> | false | undefined,
  config: ApplicationConfig,
): void {
  // An application context without HTTP (a worker, a script) has no adapter.
  if (given === false || !adapter) return;
  const options: HttpOptions<NestHttpRequest> = { module: (_req, route) => moduleOfRoute(routeInApp(route, config)), ...given };
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

/**
 * The route less what Nest puts in front of every one: the global prefix (`setGlobalPrefix`, read per request since
 * main.ts sets it after the module is made) and a URI version segment (`/v1`), so that the module is the controller's.
 */
function routeInApp(route: string | null, config: ApplicationConfig): string | null {
  if (route === null) return null;
  let rest = route;
  const prefix = config.getGlobalPrefix().replace(/^\/+|\/+$/g, '');
  if (prefix !== '' && (rest === `/${prefix}` || rest.startsWith(`/${prefix}/`))) rest = rest.slice(prefix.length + 1);
  const versioning = config.getVersioning();
  if (versioning?.type === VersioningType.URI) {
    const mark = versioning.prefix === false ? '' : (versioning.prefix ?? 'v');
    const segment = /^\/([^/]+)/.exec(rest)?.[1];
    // A version is a number after its mark (`v1`, `v2.1`): a controller's path that starts with the mark is kept.
    if (segment?.startsWith(mark) && /^\d/.test(segment.slice(mark.length))) rest = rest.slice(segment.length + 1);
  }
  return rest;
}
