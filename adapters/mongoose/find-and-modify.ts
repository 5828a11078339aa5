import { diffObjects, isOmittedPath } from 'actionlog/adapter-kit';
import { idOf } from './model-info.js';
import type { AnyModel, AnyQuery, CollectionMethod, FindAndModifyReply, Raw } from './mongoose-types.js';
import { sendQueryThrough } from './patches.js';
import type { StoredDocuments } from './reads.js';
import type { ChangeRecorder, WriteScope } from './recorder.js';

/** What a query write knows between its hooks. */
export interface QueryState extends WriteScope {
  before: Raw[];
  overflow: boolean;
  /** New states by id, when already known (computed while answering a single-document write). */
  afters?: Map<string | null, Raw>;
}

/** Single-document writes and their findAndModify form, which returns the document as it was. */
export const FIND_AND_MODIFY: Readonly<Record<string, 'findOneAndUpdate' | 'findOneAndReplace' | 'findOneAndDelete'>> = {
  updateOne: 'findOneAndUpdate',
  replaceOne: 'findOneAndReplace',
  deleteOne: 'findOneAndDelete',
};

/** Calls a method of Mongoose's collection as a method: it needs its `this`. */
function callMethod(collection: Record<string, CollectionMethod>, name: string, ...args: unknown[]): Promise<unknown> {
  const method = collection[name];
  if (!method) return Promise.reject(new Error(`actionlog: the collection has no ${name}()`));
  return method.apply(collection, args);
}

/**
 * `updateOne`/`replaceOne`/`deleteOne` sent as findAndModify returning the document as it was: the old state
 * comes with the write, exact without a transaction and without a read before it. The caller gets the answer the
 * original command gives; `modifiedCount` is whether the stored document changed.
 */
export class FindAndModifyWrites {
  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
  ) {}

  /** Sends the query's write this way; false when Mongoose's internals differ (the write is then read before). */
  send(query: AnyQuery, model: AnyModel, op: string, state: QueryState): boolean {
    const alternative = FIND_AND_MODIFY[op];
    return (
      alternative !== undefined &&
      sendQueryThrough(query, op, alternative, (collection, filter, ...args) => this.write(model, collection, op, filter, args, state))
    );
  }

  private async write(
    model: AnyModel,
    collection: Record<string, CollectionMethod>,
    op: string,
    filter: Raw,
    args: unknown[],
    state: QueryState,
  ): Promise<Raw> {
    const deletes = op === 'deleteOne';
    const update = deletes ? null : (args[0] as Raw);
    const options = ((deletes ? args[0] : args[1]) ?? {}) as Raw & { w?: unknown; writeConcern?: { w?: unknown } };
    if ((options.writeConcern?.w ?? options.w) === 0) {
      // An unacknowledged write returns nothing to learn the old state from: read it first.
      state.before = await this.reads
        .read(model, filter, { limit: 1, sort: options.sort, session: state.session })
        .catch((error: unknown) => {
          this.recorder.reportError(error);
          return [];
        });
      return (await callMethod(collection, op, filter, ...args)) as Raw;
    }
    // Where the write touches an omitted path, the whole document is needed to tell whether it changed.
    const whole = update !== null && this.touchesOmitted(model, update);
    const { new: _new, returnOriginal: _original, ...rest } = options;
    const sent = Object.assign({}, rest, {
      returnDocument: 'before',
      includeResultMetadata: true,
      projection: whole ? undefined : this.reads.projectionFor(model),
    });
    const alternative = FIND_AND_MODIFY[op] ?? '';
    const res = (
      deletes ? await callMethod(collection, alternative, filter, sent) : await callMethod(collection, alternative, filter, update, sent)
    ) as FindAndModifyReply | null;
    const before = res?.value ?? null;
    state.before = before ? [before] : [];
    if (deletes) return { acknowledged: true, deletedCount: before ? 1 : 0 };
    const upsertedId = res?.lastErrorObject?.upserted;
    if (upsertedId !== undefined) return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 1, upsertedId };
    let modified = before !== null;
    if (before) {
      try {
        state.afters = await this.reads.statesAfter(model, [before], update, state.session, whole);
        const after = state.afters.get(idOf(before));
        // A document gone before it could be read back was changed by this write all the same.
        modified = !after || diffObjects(before, after).length > 0;
      } catch (error) {
        this.recorder.reportError(error);
      }
    }
    return { acknowledged: true, matchedCount: before ? 1 : 0, modifiedCount: modified ? 1 : 0, upsertedCount: 0, upsertedId: null };
  }

  /** Whether `update` may change a path the model leaves out (pipelines and replacements may change any). */
  private touchesOmitted(model: AnyModel, update: Raw): boolean {
    const omit = this.recorder.omitFor(model);
    if (!omit) return false;
    if (Array.isArray(update) || !Object.keys(update).some((k) => k.startsWith('$'))) return true;
    const omitted = new Set(omit);
    for (const args of Object.values(update)) {
      for (const path of Object.keys(args ?? {})) {
        // Positional segments (`items.$.qty`) could be any element: compare up to the first one.
        const plain = path.split('.$', 1)[0] ?? path;
        if (isOmittedPath(plain, omitted) || omit.some((o) => o.startsWith(`${plain}.`))) return true;
      }
    }
    return false;
  }
}
