import type { FactoryProvider, ModuleMetadata } from '@nestjs/common';
import { z } from 'zod';
import { type ActionLogger, ActionLogConfigError, type ActionLoggerOptions } from 'actionlog';
import { type HttpOptions, parseOptions } from 'actionlog/adapter-kit';
import type { ExpressRequest } from 'actionlog/express';
import type { ActionLogPluginOptions } from 'actionlog/mongoose';
import type { ActionLogSubscriberOptions } from 'actionlog/typeorm';
import type { FastifyRequest } from 'fastify';

/** The request the HTTP options' functions get: Express's or Fastify's, after the platform the app runs on. */
export type NestHttpRequest = ExpressRequest | FastifyRequest;

/** Options of the Mongoose plugin the module adds through `@nestjs/mongoose`. */
export interface ActionLogMongooseOptions extends ActionLogPluginOptions {
  /** The `connectionName`s of `MongooseModule.forRoot()` whose models are recorded. Default: the default connection. */
  connections?: string[];
}

/** Options of the TypeORM subscriber the module adds to the data sources of `@nestjs/typeorm`. */
export interface ActionLogTypeOrmOptions extends ActionLogSubscriberOptions {
  /** The data source names of `TypeOrmModule.forRoot()` whose writes are recorded. Default: the default one. */
  dataSources?: string[];
}

/**
 * What the module wires into the application. `http`, `mongoose` and `typeorm` default to on wherever the app has
 * them (an HTTP platform, a `@nestjs/mongoose` connection, a `@nestjs/typeorm` data source); `false` turns one off,
 * an object sets its options and makes a missing connection or data source an error.
 */
export interface ActionLogIntegrations {
  /** The request scope, opened for every request (options of `actionlog/express` and `actionlog/fastify`). */
  http?: HttpOptions<NestHttpRequest> | false;
  mongoose?: ActionLogMongooseOptions | false;
  typeorm?: ActionLogTypeOrmOptions | false;
  /** How long `app.close()` waits for the queue to drain, in ms. Default: until everything is stored. */
  closeTimeout?: number;
}

/** `ActionLogModule.forRoot()`: the options of `createActionLogger`, or a logger of your own, and the integrations. */
export type ActionLogModuleOptions = ActionLogIntegrations & (ActionLoggerOptions | { logger: ActionLogger });

/** `ActionLogModule.forRootAsync()`: a factory of the logger (or of its options), with Nest's injection. */
export interface ActionLogModuleAsyncOptions extends ActionLogIntegrations {
  imports?: ModuleMetadata['imports'];
  inject?: FactoryProvider['inject'];
  useFactory: (...args: never[]) => ActionLoggerOptions | ActionLogger | Promise<ActionLoggerOptions | ActionLogger>;
}

const names = (what: string) =>
  z.array(z.string().min(1, 'must not be empty'), { error: `must be an array of ${what} names` }).min(1, 'must not be empty');

const integrationsSchema = z.object({
  // Their other options are checked by the capture, the plugin and the subscriber themselves.
  http: z.union([z.literal(false), z.record(z.string(), z.unknown())], { error: 'must be false or HTTP options' }).optional(),
  mongoose: z
    .union([z.literal(false), z.looseObject({ connections: names('connection').optional() })], {
      error: 'must be false or plugin options',
    })
    .optional(),
  typeorm: z
    .union([z.literal(false), z.looseObject({ dataSources: names('data source').optional() })], {
      error: 'must be false or subscriber options',
    })
    .optional(),
  closeTimeout: z.number({ error: 'must be a number' }).int('must be an integer').min(0, 'must be at least 0').optional(),
});

const WHAT = 'ActionLogModule options';

/** Checks the integrations; throws `ActionLogConfigError` naming the bad option. */
export function parseIntegrations(options: ActionLogIntegrations): ActionLogIntegrations {
  const { http, mongoose, typeorm, closeTimeout } = options;
  parseOptions(integrationsSchema, { http, mongoose, typeorm, closeTimeout }, WHAT);
  return { http, mongoose, typeorm, closeTimeout };
}

/** What builds the logger: a logger given as is, or the options of `createActionLogger`. */
export function loggerSource(options: ActionLogModuleOptions): ActionLoggerOptions | ActionLogger {
  const { http: _h, mongoose: _m, typeorm: _t, closeTimeout: _c, ...rest } = options;
  if (!('logger' in rest)) return rest;
  if (Object.keys(rest).length > 1) {
    throw new ActionLogConfigError(
      [{ path: 'logger', message: 'give either a logger or the options of createActionLogger, not both' }],
      WHAT,
    );
  }
  return rest.logger;
}

/** Whether `value` is a logger rather than options of one (the check holds across copies of the package). */
export function isLogger(value: ActionLoggerOptions | ActionLogger): value is ActionLogger {
  return typeof (value as Partial<ActionLogger>).openScope === 'function';
}
