import { type DynamicModule, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ActionLogger } from 'actionlog';
import { ActionLogCoreModule, INTEGRATIONS } from './core-module.js';
import {
  type ActionLogIntegrations,
  type ActionLogModuleAsyncOptions,
  type ActionLogModuleOptions,
  loggerSource,
  parseIntegrations,
} from './options.js';
import { loadMongooseSupport } from './mongoose.js';

/**
 * actionlog in a Nest application: `imports: [ActionLogModule.forRoot({ store })]`. Opens the request scope on
 * Express and Fastify, adds the Mongoose plugin and the TypeORM subscriber to the connections of
 * `@nestjs/mongoose` and `@nestjs/typeorm`, makes the logger injectable (`@Inject(ActionLogger)`), and drains it
 * when the application closes.
 *
 * Not global itself: Nest shuts modules down before the global ones, so the queue drains after the HTTP server
 * has closed (every request's document is queued) and before the ORM modules close their connections, which a
 * store may share. The logger comes from the global `ActionLogCoreModule` it imports, which closes it last.
 */
@Module({})
export class ActionLogModule implements OnApplicationShutdown {
  constructor(
    @Inject(ActionLogger) private readonly logger: ActionLogger,
    @Inject(INTEGRATIONS) private readonly integrations: ActionLogIntegrations,
  ) {}

  /** With the options of `createActionLogger` (or `logger`: one of your own) and the integrations. */
  static forRoot(options: ActionLogModuleOptions): Promise<DynamicModule> {
    const integrations = parseIntegrations(options);
    const source = loggerSource(options);
    return ActionLogModule.define(integrations, { useFactory: () => source });
  }

  /** With a factory of the logger or of its options: `{ imports, inject: [DataSource], useFactory: (ds) => ({ store }) }`. */
  static forRootAsync(options: ActionLogModuleAsyncOptions): Promise<DynamicModule> {
    const integrations = parseIntegrations(options);
    // Nest calls the factory with what `inject` names.
    const useFactory = options.useFactory as (...args: unknown[]) => ReturnType<typeof options.useFactory>;
    return ActionLogModule.define(integrations, { useFactory, inject: options.inject ?? [] }, options.imports ?? []);
  }

  /**
   * A promise, which Nest awaits while it scans the modules: the Mongoose plugin is loaded by then, so the module
   * is ready for it before Nest opens a connection and compiles models, without waiting for anything itself.
   */
  private static async define(
    integrations: ActionLogIntegrations,
    source: Parameters<typeof ActionLogCoreModule.create>[1],
    imports: NonNullable<ActionLogModuleAsyncOptions['imports']> = [],
  ): Promise<DynamicModule> {
    if (integrations.mongoose !== false) await loadMongooseSupport();
    return { module: ActionLogModule, imports: [ActionLogCoreModule.create(integrations, source, imports)] };
  }

  /**
   * Drains what was recorded so far, while the connections the store may share are open: this module's hook runs
   * before those of the global modules (`@nestjs/typeorm`, `@nestjs/mongoose`). The logger closes later, in the
   * global core module's hook, after every other module's (see `ActionLogCoreModule.onApplicationShutdown`).
   */
  async onApplicationShutdown(): Promise<void> {
    const timeout = this.integrations.closeTimeout;
    const flushed = this.logger.flush();
    if (timeout === undefined) return flushed;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flushed, new Promise((resolve) => (timer = setTimeout(resolve, timeout)))]);
    clearTimeout(timer);
  }
}
