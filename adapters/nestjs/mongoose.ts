import type { ModulesContainer } from '@nestjs/core';
import type { Connection, Schema } from 'mongoose';
import { ActionLogConfigError, type ActionLogger } from 'actionlog';
import type { actionLogPlugin } from 'actionlog/mongoose';
import { optionalImport } from './optional-import.js';
import type { ActionLogMongooseOptions } from './options.js';
import { hasProvider } from './providers.js';
import { loggerFacade, type PendingLogger } from './pending-logger.js';

interface MongooseSupport {
  getConnectionToken(name?: string): string;
  actionLogPlugin: typeof actionLogPlugin;
  /** The Mongoose instance `@nestjs/mongoose` creates its connections with. */
  mongoose: { plugin(fn: (schema: Schema) => void): unknown };
}

let loading: Promise<MongooseSupport | undefined> | undefined;

/**
 * Loads `@nestjs/mongoose`, Mongoose and the plugin, once per process; undefined without `@nestjs/mongoose`.
 * Started when the module is defined, so that it is done before any connection opens.
 */
export function loadMongooseSupport(): Promise<MongooseSupport | undefined> {
  if (!loading) {
    loading = (async () => {
      const nest = await optionalImport('@nestjs/mongoose', () => import('@nestjs/mongoose'));
      if (!nest) return undefined;
      const [mongoose, adapter] = await Promise.all([import('mongoose'), import('actionlog/mongoose')]);
      return { getConnectionToken: nest.getConnectionToken, actionLogPlugin: adapter.actionLogPlugin, mongoose: mongoose.default };
    })();
    // Awaited by each application that uses it; a failure is reported there.
    loading.catch(() => {});
  }
  return loading;
}

/**
 * What every Mongoose model of the process records into, one per process (shared by every copy of this module):
 * Mongoose applies a global plugin to a schema once, when its first model compiles, so the plugin's logger is
 * whichever application owns the models at the time of the write.
 */
interface MongooseSlot {
  /** The application whose logger the models record into. */
  owner: MongooseBinding | undefined;
  /** The plugin a schema gets when it compiles (made with the owner's options). */
  plugin: ((schema: Schema) => void) | undefined;
  /** Schemas that have the plugin. */
  applied: WeakSet<Schema>;
  /** Mongoose instances the dispatching plugin is registered on. */
  instances: WeakSet<object>;
  facade: ActionLogger;
}

const SLOT = Symbol.for('actionlog.nestjs.mongoose');

function slot(): MongooseSlot {
  const holder = globalThis as { [SLOT]?: MongooseSlot };
  if (!holder[SLOT]) {
    let warned = false;
    const created: MongooseSlot = {
      owner: undefined,
      plugin: undefined,
      applied: new WeakSet(),
      instances: new WeakSet(),
      facade: loggerFacade(
        () => created.owner?.handle,
        (name, args) => {
          // The models' application is closed: nothing is recorded, which is said once.
          if (name === 'current') return undefined;
          if (!warned || name === 'report' || name === 'reportError') {
            warned = true;
            const detail = name === 'report' || name === 'reportError' ? String(args[0]) : 'writes are not recorded';
            console.warn(`[actionlog] Mongoose write outside a running Nest application with ActionLogModule: ${detail}`);
          }
          return undefined;
        },
      ),
    };
    holder[SLOT] = created;
  }
  return holder[SLOT];
}

/** The global plugin: gives a compiling schema the owner's plugin, once. */
function dispatch(schema: Schema): void {
  const s = slot();
  if (!s.owner || !s.plugin || s.applied.has(schema)) return;
  s.applied.add(schema);
  s.plugin(schema);
}

const WHAT = 'ActionLogModule options';

/** The Mongoose side of one application: its connections' models record into its logger. */
export class MongooseBinding {
  /** Set once the application has started with every model in place, until it shuts down. */
  private running = false;

  private constructor(
    readonly handle: PendingLogger,
    private readonly tokens: string[],
  ) {}

  /**
   * Run first while Nest builds the application, before `@nestjs/mongoose` compiles any model: makes this
   * application the owner of the models. Null when the app has no `@nestjs/mongoose` connection to record.
   */
  static async arm(
    options: ActionLogMongooseOptions | false | undefined,
    handle: PendingLogger,
    modules: ModulesContainer,
  ): Promise<MongooseBinding | null> {
    if (options === false) return null;
    const support = await loadMongooseSupport();
    if (!support) {
      if (options) throw new ActionLogConfigError([{ path: 'mongoose', message: '@nestjs/mongoose is not installed' }], WHAT);
      return null;
    }
    const { connections, ...pluginOptions } = options ?? {};
    const tokens = (connections ?? [undefined]).map((name) => support.getConnectionToken(name));
    const missing = tokens.filter((token) => !hasProvider(modules, token));
    if (options && missing.length > 0) {
      throw new ActionLogConfigError(
        [{ path: 'mongoose.connections', message: `no @nestjs/mongoose connection provides ${missing.join(', ')}` }],
        WHAT,
      );
    }
    if (missing.length === tokens.length) return null;

    const s = slot();
    // An owner that never started (its creation failed, or it is being created now and will find out) gives way.
    if (s.owner?.running) {
      throw new ActionLogConfigError(
        [
          {
            path: 'mongoose',
            message:
              'another Nest application with ActionLogModule is running in this process: close it first (a Mongoose schema takes a plugin once per process, so its models record into one application)',
          },
        ],
        WHAT,
      );
    }
    const binding = new MongooseBinding(
      handle,
      tokens.filter((token) => !missing.includes(token)),
    );
    s.plugin = support.actionLogPlugin(s.facade, pluginOptions);
    s.owner = binding;
    if (!s.instances.has(support.mongoose)) {
      s.instances.add(support.mongoose);
      support.mongoose.plugin(dispatch);
    }
    return binding;
  }

  /** Once Nest has built every provider: every model of the application's connections must have the plugin. */
  verify(connectionOf: (token: string) => Connection): void {
    if (slot().owner !== this) {
      throw new ActionLogConfigError(
        [
          {
            path: 'mongoose',
            message: 'another Nest application with ActionLogModule took over the Mongoose models while this one was created',
          },
        ],
        WHAT,
      );
    }
    const missed: string[] = [];
    for (const token of this.tokens) {
      const models = connectionOf(token).models;
      for (const [name, model] of Object.entries(models)) {
        // A discriminator's hooks are its base model's.
        const base = (model as { baseModelName?: string }).baseModelName;
        const schema = (base ? (models[base] ?? model) : model).schema;
        if (!slot().applied.has(schema)) missed.push(name);
      }
    }
    if (missed.length > 0) {
      this.release();
      throw new ActionLogConfigError(
        [
          {
            path: 'mongoose',
            message: `models compiled without the plugin: ${missed.join(', ')} (their schema had a model before this application was created, and Mongoose adds plugins to a schema when its first model compiles); compile them through MongooseModule.forFeature only, or apply actionLogPlugin to them yourself and set mongoose: false`,
          },
        ],
        WHAT,
      );
    }
    this.running = true;
  }

  /** When the application has shut down: its models record into nothing any more. */
  release(): void {
    this.running = false;
    const s = slot();
    if (s.owner === this) {
      s.owner = undefined;
      s.plugin = undefined;
    }
  }
}
