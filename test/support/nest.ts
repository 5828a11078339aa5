import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Client } from './client.js';

export type NestPlatform = 'express' | 'fastify';
export const NEST_PLATFORMS: NestPlatform[] = ['express', 'fastify'];

export interface RunningNestApp {
  app: INestApplication;
  client: Client;
  /** Closes the client's sockets, then the application (its shutdown hooks included). */
  close(): Promise<void>;
}

/**
 * Creates the Nest application of `module` on `platform`, listening on a free local port; `setup` runs between
 * creation and listen, as a main.ts does (global prefix, versioning, app.use...).
 */
export async function startNest(
  module: object,
  platform: NestPlatform,
  maxSockets = 64,
  setup?: (app: INestApplication) => void,
): Promise<RunningNestApp> {
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  // Nest types its options as a class, and documents them as this literal.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  const app = await NestFactory.create(module, adapter, { logger: false, abortOnError: false });
  app.enableShutdownHooks();
  setup?.(app);
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close();
    throw error;
  }
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  const client = new Client(`http://127.0.0.1:${port}`, maxSockets);
  return {
    app,
    client,
    close: async () => {
      client.close();
      await app.close();
    },
  };
}
