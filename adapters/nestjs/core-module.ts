import {
  type DynamicModule,
  type FactoryProvider,
  Inject,
  Module,
  type ModuleMetadata,
  type NestModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost, ModuleRef, ModulesContainer } from '@nestjs/core';
import type { Connection } from 'mongoose';
import type { DataSource } from 'typeorm';
import { ActionLogger, type ActionLoggerOptions, createActionLogger } from 'actionlog';
import { mountHttpCapture, mountsAtCreation } from './http.js';
import { MongooseBinding } from './mongoose.js';
import { type ActionLogIntegrations, isLogger } from './options.js';
import { PendingLogger } from './pending-logger.js';
import { bindTypeOrm } from './typeorm.js';

/** The integrations of the application (`http`, `mongoose`, `typeorm`, `closeTimeout`). */
export const INTEGRATIONS = Symbol('actionlog:integrations');
const PENDING_LOGGER = Symbol('actionlog:pending-logger');
const MONGOOSE = Symbol('actionlog:mongoose');

/** What the logger is built from, once Nest has injected the factory's dependencies. */
export type LoggerSource = ActionLoggerOptions | ActionLogger;

/**
 * The global part of ActionLogModule: the logger (injectable as `ActionLogger` anywhere), the request scope and
 * the ORM adapters. Global modules start first, so the adapters are in place before the application's own
 * modules initialize.
 */
@Module({})
export class ActionLogCoreModule implements NestModule, OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(ActionLogger) private readonly logger: ActionLogger,
    @Inject(INTEGRATIONS) private readonly integrations: ActionLogIntegrations,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
    @Inject(MONGOOSE) private readonly mongoose: MongooseBinding | null,
    @Inject(ApplicationConfig) private readonly config: ApplicationConfig,
  ) {
    // Express: mounted while Nest creates the application, before the body parsers app.init() adds and the
    // middleware main.ts adds with app.use(), so that a request they answer (a refused body, a rate limit) has its
    // document too.
    if (mountsAtCreation(adapterHost.httpAdapter)) mountHttpCapture(adapterHost.httpAdapter, logger, integrations.http, config);
  }

  /** `source` makes what the logger is built from, with what `imports` provide injected. */
  static create(
    integrations: ActionLogIntegrations,
    source: Pick<FactoryProvider<LoggerSource>, 'useFactory' | 'inject'>,
    imports: NonNullable<ModuleMetadata['imports']> = [],
  ): DynamicModule {
    const sourceToken = Symbol('actionlog:logger-source');
    return {
      module: ActionLogCoreModule,
      global: true,
      imports,
      providers: [
        { provide: INTEGRATIONS, useValue: integrations },
        // One per application, also when two are made from the same module definition.
        { provide: PENDING_LOGGER, useFactory: () => new PendingLogger() },
        { ...source, provide: sourceToken },
        {
          provide: ActionLogger,
          useFactory: (from: LoggerSource, pending: PendingLogger) => pending.resolve(isLogger(from) ? from : createActionLogger(from)),
          inject: [sourceToken, PENDING_LOGGER],
        },
        {
          provide: MONGOOSE,
          // Depends on nothing that waits, so it runs before any connection is open.
          useFactory: (pending: PendingLogger, modules: ModulesContainer) => MongooseBinding.arm(integrations.mongoose, pending, modules),
          inject: [PENDING_LOGGER, ModulesContainer],
        },
      ],
      exports: [ActionLogger, INTEGRATIONS],
    };
  }

  configure(): void {
    // Fastify: its hooks, registered ahead of the routes (its onRequest hook runs before it parses a body).
    const adapter = this.adapterHost.httpAdapter;
    if (!mountsAtCreation(adapter)) mountHttpCapture(adapter, this.logger, this.integrations.http, this.config);
  }

  async onModuleInit(): Promise<void> {
    this.mongoose?.verify((token) => this.moduleRef.get<Connection>(token, { strict: false }));
    await bindTypeOrm(this.integrations.typeorm, this.logger, this.modules, (token) =>
      this.moduleRef.get<DataSource>(token as string, { strict: false }),
    );
  }

  /**
   * Closes the logger once every module's own shutdown hook ran (a global module's runs after them, whatever their
   * depth): what a job runner records as it stops is stored too. `ActionLogModule` drained the rest before.
   */
  async onApplicationShutdown(): Promise<void> {
    const timeout = this.integrations.closeTimeout;
    try {
      await this.logger.close(timeout === undefined ? {} : { timeout });
    } finally {
      this.mongoose?.release();
    }
  }
}
