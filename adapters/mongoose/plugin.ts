import { z } from 'zod';
import { type ActionLogger, ActionLogConfigError } from 'actionlog';
import type { Document, Schema } from 'mongoose';
import { type CaptureSettings, MongooseCapture } from './capture.js';
import { addStamps } from './stamps.js';

/** Options of `actionLogPlugin(logger, options)`. */
export interface ActionLogPluginOptions {
  /** Only these models (by model name). Default: all. */
  include?: string[];
  /** Never these models. */
  exclude?: string[];
  /** Paths left out of old and new objects: for every model, or per model name. */
  omit?: string[] | Record<string, string[]>;
  /** A query-level write touching more documents records one summary entry instead. Default 1000. */
  maxDocumentsPerQuery?: number;
  /**
   * How `updateOne`/`replaceOne`/`deleteOne` learn the old state: `'findAndModify'` (default) sends them as
   * findAndModify returning it, exact in one round trip; `'readBefore'` reads the document first.
   */
  singleDocumentWrites?: 'findAndModify' | 'readBefore';
}

/** The `actionLog` schema option: `new Schema(paths, { actionLog: { omit: ['pin'] } })`, or `actionLog: false`. */
export interface ActionLogSchemaOptions {
  /** Record nothing for this schema. */
  skip?: boolean;
  /** Paths left out of this schema's old and new objects. */
  omit?: string[];
  /** Add the stamp fields, soft delete and the request workflows to this schema. */
  stamps?: boolean;
}

const pluginSchema = z.strictObject({
  include: z.array(z.string().min(1)).optional(),
  exclude: z.array(z.string().min(1)).optional(),
  omit: z.union([z.array(z.string()), z.record(z.string(), z.array(z.string()))], { error: 'must be a list of paths, or lists per model name' }).optional(),
  maxDocumentsPerQuery: z.number().int().min(1).default(1000),
  singleDocumentWrites: z.enum(['findAndModify', 'readBefore']).default('findAndModify'),
});

const schemaOptionSchema = z.union(
  [z.literal(false), z.strictObject({ skip: z.boolean().optional(), omit: z.array(z.string()).optional(), stamps: z.boolean().optional() })],
  { error: 'must be false or { skip?, omit?, stamps? }' },
);

const QUERY_WRITES = ['updateOne', 'updateMany', 'replaceOne', 'deleteOne', 'deleteMany', 'findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete'] as const;

function isSubdocument(doc: Document): boolean {
  return (doc as { $isSubdocument?: boolean }).$isSubdocument === true;
}

function configError(issues: Array<{ path: PropertyKey[]; message: string }>, what: string): ActionLogConfigError {
  return new ActionLogConfigError(issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })), what);
}

/**
 * The Mongoose plugin: `mongoose.plugin(actionLogPlugin(logger))` before models are compiled, or
 * `schema.plugin(actionLogPlugin(logger))`. Records every write of the schema's models as a model log.
 */
export function actionLogPlugin(logger: ActionLogger, options: ActionLogPluginOptions = {}): (schema: Schema) => void {
  if (!logger || typeof (logger as Partial<ActionLogger>).recordModelChange !== 'function') {
    throw new ActionLogConfigError([{ path: 'logger', message: 'must be an ActionLogger (createActionLogger)' }], 'actionLogPlugin options');
  }
  const parsed = pluginSchema.safeParse(options ?? {});
  if (!parsed.success) throw configError(parsed.error.issues, 'actionLogPlugin options');
  const o = parsed.data;

  return function actionLog(schema: Schema): void {
    const own = schemaOptionSchema.optional().safeParse(schema.get('actionLog' as never));
    if (!own.success) throw configError(own.error.issues.map((i) => ({ ...i, path: ['actionLog', ...i.path] })), 'schema options');
    if (own.data === false || own.data?.skip) return;
    const settings: CaptureSettings = {
      include: o.include ? new Set(o.include) : undefined,
      exclude: new Set(o.exclude ?? []),
      omitAll: Array.isArray(o.omit) ? o.omit : [],
      omitByModel: o.omit && !Array.isArray(o.omit) ? o.omit : {},
      omitBySchema: own.data?.omit ?? [],
      maxDocumentsPerQuery: o.maxDocumentsPerQuery,
      singleDocumentWrites: o.singleDocumentWrites,
    };
    const capture = new MongooseCapture(logger, settings);
    if (own.data?.stamps) addStamps(schema, logger, capture);

    // Mongoose keeps a path's initial value on its first change once `savedState` exists: setting it when a
    // document loads gives save() its old state without a read, and costs nothing for documents only read.
    schema.post('init', function (this: Document) {
      if (isSubdocument(this)) return;
      const internals = (this as unknown as { $__: { savedState?: object } }).$__;
      internals.savedState ??= {};
    });
    // `mongoose.plugin()` reaches subdocument schemas too: their changes are recorded with the top document.
    // Hooks return a promise only when they have I/O to wait for: Mongoose awaits nothing else.
    schema.pre('save', function (this: Document, options?: { session?: unknown }) {
      if (!isSubdocument(this)) return capture.beforeSave(this, options);
    });
    schema.post('save', function (this: Document) {
      if (!isSubdocument(this)) capture.afterSave(this);
    });
    schema.post('insertMany', function (this: unknown, docs: unknown) {
      capture.afterInsertMany(this as never, docs);
    });
    for (const op of QUERY_WRITES) {
      schema.pre(op, { document: false, query: true }, function (this: never) {
        return capture.beforeQuery(this);
      });
      schema.post(op, { document: false, query: true }, function (this: never, result: unknown) {
        return capture.afterQuery(this, result);
      });
    }
    // Mongoose's bulkWrite middleware (8.2+); its types do not list the hook yet.
    (schema.pre as unknown as (name: string, fn: (this: never, ops: unknown[], opts?: Record<string, unknown>) => unknown) => void)(
      'bulkWrite',
      function (this: never, ops: unknown[], opts?: Record<string, unknown>) {
        return capture.beforeBulkWrite(this, ops, opts);
      },
    );
  };
}
