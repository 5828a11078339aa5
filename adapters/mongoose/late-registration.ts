import mongoose, { type Schema } from 'mongoose';
import { ActionLogConfigError, type ActionLogger } from 'actionlog';

// Schemas some actionLogPlugin of this process was applied to, by whichever logger.
const audited = new WeakSet<Schema>();

/** Notes that an actionLogPlugin was applied to `schema`. */
export function markAudited(schema: Schema): void {
  audited.add(schema);
}

/**
 * Mongoose applies a global plugin to a schema when its first model compiles: `mongoose.plugin(actionLogPlugin(...))`
 * after `mongoose.model(...)` leaves that model unaudited, without a word. Checked once, after the code that made
 * the plugin has run: a model compiled without it is reported, named.
 */
export function reportModelsCompiledBefore(plugin: (schema: Schema) => void, logger: ActionLogger): void {
  setImmediate(() => {
    // Mongoose's global plugin list: [plugin, options] pairs (not in its typings).
    const registered = (mongoose as unknown as { plugins: Array<[unknown, unknown]> }).plugins;
    if (!registered.some(([fn]) => fn === plugin)) return;
    const missed = new Set<string>();
    for (const connection of mongoose.connections) {
      for (const [name, model] of Object.entries(connection.models)) {
        // A discriminator's hooks are its base model's.
        const base = (model as { baseModelName?: string }).baseModelName;
        const schema = (base ? (connection.models[base] ?? model) : model).schema;
        if (!audited.has(schema)) missed.add(name);
      }
    }
    if (missed.size === 0) return;
    const message =
      `registered after ${[...missed].join(', ')} compiled: their writes are not recorded; ` +
      'call mongoose.plugin(actionLogPlugin(logger)) before mongoose.model(), or schema.plugin(...) on their schemas';
    logger.report(new ActionLogConfigError([{ path: 'actionLogPlugin', message }], 'Mongoose setup'));
  }).unref();
}
