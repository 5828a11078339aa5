import { z } from 'zod';
import type { ActionLogger } from 'actionlog';
import { adapterOptionsShape, type AdapterOptions, assertLogger, ModelSelection, parseOptions } from 'actionlog/adapter-kit';
import type { Document, Schema } from 'mongoose';
import { BulkWrites } from './bulk-writes.js';
import { DocumentWrites } from './document-writes.js';
import { FindAndModifyWrites } from './find-and-modify.js';
import { InsertManyWrites } from './insert-many.js';
import type { AnyModel, AnyQuery, Raw } from './mongoose-types.js';
import { QUERY_WRITES, QueryWrites } from './query-writes.js';
import { StoredDocuments } from './reads.js';
import { ChangeRecorder } from './recorder.js';
import { rememberLoad, watchInPlaceMarks } from './save-states.js';
import { markAudited, reportModelsCompiledBefore } from './late-registration.js';
import { addStamps } from './stamps.js';

/** Options of `actionLogPlugin(logger, options)`: `include`/`exclude` take model names or models. */
export interface ActionLogPluginOptions extends AdapterOptions {
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
  ...adapterOptionsShape,
  singleDocumentWrites: z
    .enum(['findAndModify', 'readBefore'], { error: 'must be "findAndModify" or "readBefore"' })
    .default('findAndModify'),
});

const schemaOptionSchema = z.object({
  actionLog: z
    .union(
      [
        z.literal(false),
        z.strictObject({ skip: z.boolean().optional(), omit: z.array(z.string()).optional(), stamps: z.boolean().optional() }),
      ],
      {
        error: 'must be false or { skip?, omit?, stamps? }',
      },
    )
    .optional(),
});

function isSubdocument(doc: Document): boolean {
  return (doc as { $isSubdocument?: boolean }).$isSubdocument === true;
}

/**
 * The Mongoose plugin: `mongoose.plugin(actionLogPlugin(logger))` before models are compiled, or
 * `schema.plugin(actionLogPlugin(logger))`. Records every write of the schema's models as a model log.
 */
export function actionLogPlugin(logger: ActionLogger, options: ActionLogPluginOptions = {}): (schema: Schema) => void {
  assertLogger(logger, 'actionLogPlugin options');
  const o = parseOptions(pluginSchema, options, 'actionLogPlugin options');
  // One selection for every schema: its omitted paths reach the request bodies from now on.
  const selection = new ModelSelection<AnyModel>(o, logger);

  const plugin = (schema: Schema): void => {
    markAudited(schema);
    const own = parseOptions(schemaOptionSchema, { actionLog: schema.get('actionLog' as never) }, 'schema options').actionLog;
    if (own === false || own?.skip) return;
    if (own?.omit) selection.omitOwn(own.omit);
    const recorder = new ChangeRecorder(logger, selection, own?.omit ?? [], o.maxDocumentsPerQuery);
    const reads = new StoredDocuments(recorder);
    const documents = new DocumentWrites(recorder, reads);
    const queries = new QueryWrites(recorder, reads, new FindAndModifyWrites(recorder, reads, o.singleDocumentWrites === 'findAndModify'));
    const bulk = new BulkWrites(recorder, reads);
    const inserts = new InsertManyWrites(recorder);
    if (own?.stamps) addStamps(schema, logger, documents);
    watchInPlaceMarks(schema);

    // Mongoose keeps a path's initial value on its first change once `savedState` exists: setting it when a
    // document loads gives save() its old state without a read, and costs nothing for documents only read.
    schema.post('init', function (this: Document) {
      if (!isSubdocument(this)) rememberLoad(this);
    });
    // `mongoose.plugin()` reaches subdocument schemas too: their changes are recorded with the top document.
    // Hooks return a promise only when they have I/O to wait for: Mongoose awaits nothing else.
    schema.pre('save', function (this: Document, saveOptions?: { session?: unknown }) {
      if (!isSubdocument(this)) return documents.beforeSave(this, saveOptions);
    });
    schema.post('save', function (this: Document) {
      if (!isSubdocument(this)) documents.afterSave(this);
    });
    // Typed as returning nothing; Mongoose takes the arguments a pre hook returns (`overwriteMiddlewareArguments`).
    (schema.pre as unknown as (name: string, fn: (this: AnyModel, docs: unknown) => unknown) => void)(
      'insertMany',
      function (this: AnyModel, docs) {
        return inserts.before(this, docs);
      },
    );
    schema.post('insertMany', function (this: AnyModel, docs: unknown) {
      inserts.inserted(this, docs);
    });
    schema.post('insertMany', { errorHandler: true } as never, function (this: AnyModel, error: unknown) {
      inserts.failed(this, error);
    });
    for (const op of QUERY_WRITES) {
      schema.pre(op, { document: false, query: true }, function (this: AnyQuery) {
        return queries.before(this);
      });
      schema.post(op, { document: false, query: true }, function (this: AnyQuery, result: unknown) {
        return queries.after(this, result);
      });
      // An error handler (Kareem's `errorHandler`): Mongoose rethrows the error once it has run.
      schema.post(op, { document: false, query: true, errorHandler: true } as never, function (this: AnyQuery) {
        return queries.failed(this);
      });
    }
    // Mongoose's bulkWrite middleware (8.2+); its types do not list the hook yet.
    (schema.pre as unknown as (name: string, fn: (this: AnyModel, ops: unknown[], opts?: Raw) => unknown) => void)(
      'bulkWrite',
      function (this: AnyModel, ops: unknown[], opts?: Raw) {
        return bulk.before(this, ops, opts);
      },
    );
  };
  reportModelsCompiledBefore(plugin, logger);
  return plugin;
}
