import type { ActionLogger } from '../logger.js';
import { z } from 'zod';

/** A model or entity: its name, or the class / Mongoose model itself. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- any class or model constructor names a model
export type ModelRef = string | Function;

/** The options every ORM adapter takes, in the same words. */
export interface AdapterOptions {
  /** Only these models (names, classes or Mongoose models). Default: all. */
  include?: ModelRef[];
  /** Never these models. */
  exclude?: ModelRef[];
  /** Paths left out of old and new objects: for every model, or per model name. */
  omit?: string[] | Record<string, string[]>;
  /** A query-level write touching more documents or rows records one summary entry instead. Default 1000. */
  maxDocumentsPerQuery?: number;
}

const modelRef = z.union([z.string().min(1), z.custom<ModelRef>((v) => typeof v === 'function')], {
  error: 'must be a model name or class',
});

/** The zod shape of `AdapterOptions`: adapters add their own options beside it in one strict object. */
export const adapterOptionsShape = {
  include: z.array(modelRef, { error: 'must be a list of model names or classes' }).optional(),
  exclude: z.array(modelRef, { error: 'must be a list of model names or classes' }).optional(),
  omit: z
    .union([z.array(z.string()), z.record(z.string(), z.array(z.string()))], { error: 'must be a list of paths, or lists per model name' })
    .optional(),
  maxDocumentsPerQuery: z.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').default(1000),
};

function nameOf(ref: ModelRef): string {
  if (typeof ref === 'string') return ref;
  const modelName = (ref as { modelName?: unknown }).modelName;
  return typeof modelName === 'string' ? modelName : ref.name;
}

/**
 * Which models an adapter records (`include`/`exclude`) and which paths it leaves out of them (`omit`),
 * decided once per model.
 */
export class ModelSelection<Model extends object> {
  private readonly include: ReadonlySet<string> | undefined;
  private readonly exclude: ReadonlySet<string>;
  private readonly omitAll: readonly string[];
  private readonly omitByName: ReadonlyMap<string, readonly string[]>;
  private readonly omits = new WeakMap<Model, readonly string[] | undefined>();

  /** `bodies` (the logger) is told every omitted path, so that request bodies leave them out too. */
  constructor(
    options: Pick<AdapterOptions, 'include' | 'exclude' | 'omit'>,
    private readonly bodies?: Pick<ActionLogger, 'omitFromBodies'>,
  ) {
    this.include = options.include ? new Set(options.include.map(nameOf)) : undefined;
    this.exclude = new Set((options.exclude ?? []).map(nameOf));
    this.omitAll = Array.isArray(options.omit) ? options.omit : [];
    this.omitByName = new Map(options.omit && !Array.isArray(options.omit) ? Object.entries(options.omit) : []);
    bodies?.omitFromBodies([...this.omitAll, ...[...this.omitByName.values()].flat()]);
  }

  /** A model's own omitted paths (a schema option), known before its first change: kept out of bodies at once. */
  omitOwn(paths: readonly string[]): void {
    this.bodies?.omitFromBodies(paths);
  }

  /** Whether a model known by any of these names (its own, a base model's...) is recorded. */
  records(names: ReadonlyArray<string | undefined>): boolean {
    const { include, exclude } = this;
    if (include && !names.some((n) => n !== undefined && include.has(n))) return false;
    return !names.some((n) => n !== undefined && exclude.has(n));
  }

  /**
   * The paths left out of `model`'s objects: every model's, those given for its `name`, and `extra` (a schema's
   * own). Worked out once per model, the same array every time (the builder caches by it); undefined for none.
   */
  omitFor(model: Model, name: string, extra: readonly string[] = []): readonly string[] | undefined {
    if (this.omits.has(model)) return this.omits.get(model);
    const omit = [...new Set([...this.omitAll, ...extra, ...(this.omitByName.get(name) ?? [])])];
    if (extra.length > 0) this.bodies?.omitFromBodies(extra);
    const found = omit.length > 0 ? omit : undefined;
    this.omits.set(model, found);
    return found;
  }
}
