import { type ActionLogger, copyDocument, diffObjects, isOmittedPath, type ModelChange, type RequestContext } from 'actionlog';
import type { Document, Model, Query } from 'mongoose';
import { applyUpdate } from './apply-update.js';
import { docState, idOf, infoOf, type InitialValues, initialValues, modelOfDoc, plainOf, stateBefore } from './model-info.js';
import { type PendingChange, recordInSession } from './session-buffer.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyModel = Model<any>;
type AnyQuery = Query<any, any>;
type Raw = Record<string, any>;

export interface CaptureSettings {
  include?: Set<string>;
  exclude: Set<string>;
  omitAll: string[];
  omitByModel: Record<string, string[]>;
  omitBySchema: string[];
  maxDocumentsPerQuery: number;
  singleDocumentWrites: 'findAndModify' | 'readBefore';
}

const QUERY_STATE = Symbol('actionlog.query');
const BULK = Symbol.for('actionlog.bulk-write');
const wrappedCollections = new WeakSet<object>();

interface QueryState {
  context: RequestContext | null;
  session: unknown;
  before: Raw[];
  overflow: boolean;
  /** New states by id, when already known (computed while answering a single-document write). */
  afters?: Map<string | null, Raw>;
}

interface SaveState {
  context: RequestContext | null;
  session: unknown;
  isNew: boolean;
  /** How to know the old state once saved: Mongoose's own initial values, or a copy taken before. */
  before: { initial: InitialValues } | { copy: Raw } | null;
}

/** Writes a query can make, by what it touches and what it returns. */
const SINGLE = new Set(['updateOne', 'replaceOne', 'deleteOne', 'findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete']);
const RETURNS_DOC = new Set(['findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete']);
const DELETES = new Set(['deleteOne', 'deleteMany', 'findOneAndDelete']);
/** Single-document writes sent as their findAndModify form, which returns the document as it was. */
const FIND_AND_MODIFY: Record<string, 'findOneAndUpdate' | 'findOneAndReplace' | 'findOneAndDelete'> = {
  updateOne: 'findOneAndUpdate',
  replaceOne: 'findOneAndReplace',
  deleteOne: 'findOneAndDelete',
};

/** Records Mongoose writes for one schema. Every entry point reports its errors instead of throwing (unless strict). */
export class MongooseCapture {
  private readonly saves = new WeakMap<object, SaveState>();
  private readonly nextActions = new WeakMap<object, ModelChange['action']>();
  private readonly projections = new WeakMap<AnyModel, Raw | undefined>();
  private readonly omits = new WeakMap<AnyModel, { omit?: string[] }>();

  constructor(
    private readonly logger: ActionLogger,
    private readonly settings: CaptureSettings,
  ) {}

  audits(model: AnyModel): boolean {
    const names = [model.modelName, (model as any).baseModelName].filter(Boolean) as string[];
    if (this.settings.include && !names.some((n) => this.settings.include!.has(n))) return false;
    return !names.some((n) => this.settings.exclude.has(n));
  }

  // ---- documents ----------------------------------------------------------------------------------------

  /** Synchronous unless the old state must be read (a document built by hand): hooks that need no I/O cost no await. */
  beforeSave(doc: Document, options: { session?: unknown } | undefined): void | Promise<void> {
    try {
      const model = doc.constructor as AnyModel;
      if (!this.audits(model)) return;
      const isNew = doc.isNew;
      // A loaded document that did not change saves nothing: nothing to remember.
      if (!isNew && !doc.isModified()) return;
      const session = options?.session ?? doc.$session() ?? sessionFromStorage(model);
      const context = this.logger.current() ?? null;
      if (isNew) {
        this.saves.set(doc, { context, session, isNew, before: null });
        return;
      }
      // Mongoose replaces its record of initial values after saving, so holding it costs no copy. A
      // document that was not loaded (built by hand) has none: its stored state is read instead.
      const initial = initialValues(doc);
      if (initial) {
        this.saves.set(doc, { context, session, isNew, before: { initial } });
        return;
      }
      return this.readById(model, doc._id, session).then(
        (stored) => {
          if (stored) this.saves.set(doc, { context, session, isNew, before: { copy: stored } });
        },
        (error: unknown) => this.logger.reportError(error),
      );
    } catch (error) {
      this.logger.reportError(error);
    }
  }

  /** The next save of `doc` is recorded as this action (a soft delete or restore is an update underneath). */
  nextSaveIs(doc: Document, action: ModelChange['action']): void {
    this.nextActions.set(doc, action);
  }

  afterSave(doc: Document): void {
    const state = this.saves.get(doc);
    const action = this.nextActions.get(doc);
    this.nextActions.delete(doc);
    if (!state) return;
    this.saves.delete(doc);
    this.guard(() => {
      const model = doc.constructor as AnyModel;
      const after = docState(doc);
      if (!state.before) {
        this.record(model, null, after, action ?? 'Created', state);
      } else {
        const before = 'initial' in state.before ? stateBefore(after, state.before.initial) : state.before.copy;
        this.record(model, before, after, action ?? 'Updated', state);
      }
    });
  }

  afterInsertMany(model: AnyModel, docs: unknown): void {
    this.guard(() => {
      if (!this.audits(model) || !Array.isArray(docs)) return;
      const context = this.logger.current() ?? null;
      for (const doc of docs as Document[]) {
        const state = { context, session: (doc as any)?.$session?.() ?? sessionFromStorage(model) };
        const raw = typeof (doc as any)?.toObject === 'function' ? docState(doc) : (plainOf(doc) as Raw);
        this.record(model, null, raw, 'Created', state);
      }
    });
  }

  // ---- queries --------------------------------------------------------------------------------------------

  beforeQuery(query: AnyQuery): void | Promise<void> {
    try {
      const model = query.model as AnyModel;
      if (!this.audits(model)) return;
      const op = (query as unknown as { op: string }).op;
      const options = query.getOptions() as Raw;
      const state: QueryState = {
        context: this.logger.current() ?? null,
        session: options.session ?? sessionFromStorage(model),
        before: [],
        overflow: false,
      };
      (query as any)[QUERY_STATE] = state;
      if (FIND_AND_MODIFY[op] && this.settings.singleDocumentWrites === 'findAndModify' && this.sendAsFindAndModify(query, model, op, state)) return;
      const returnsAfter = options.new === true || options.returnDocument === 'after';
      // findOneAnd* returning the document as it was need no read: the result is the old state.
      if (RETURNS_DOC.has(op) && !returnsAfter) return;
      const limit = SINGLE.has(op) ? 1 : this.settings.maxDocumentsPerQuery + 1;
      return this.read(model, castFilter(query), { limit, sort: options.sort, collation: options.collation, session: state.session }).then(
        (before) => {
          state.before = before;
          state.overflow = before.length > this.settings.maxDocumentsPerQuery;
        },
        (error: unknown) => {
          delete (query as any)[QUERY_STATE];
          this.logger.reportError(error);
        },
      );
    } catch (error) {
      delete (query as any)[QUERY_STATE];
      this.logger.reportError(error);
    }
  }

  afterQuery(query: AnyQuery, result: unknown): void | Promise<void> {
    const state = (query as any)[QUERY_STATE] as QueryState | undefined;
    if (!state) return;
    delete (query as any)[QUERY_STATE];
    try {
      const model = query.model as AnyModel;
      const op = (query as unknown as { op: string }).op;
      const options = query.getOptions() as Raw;
      const update = query.getUpdate() as Raw | null;
      if (state.overflow) {
        const matched = Number((result as Raw)?.matchedCount ?? (result as Raw)?.deletedCount ?? state.before.length);
        this.recordSummary(model, DELETES.has(op) ? 'Deleted' : 'Updated', copyDocument(query.getFilter()), update, matched, state);
        return;
      }
      const pending = RETURNS_DOC.has(op)
        ? this.afterFindAndModify(model, op, options, update, result, state, query)
        : DELETES.has(op)
          ? this.afterDelete(model, result as Raw, state)
          : this.afterUpdate(model, update, result as Raw, state);
      return pending?.catch((error: unknown) => this.logger.reportError(error));
    } catch (error) {
      this.logger.reportError(error);
    }
  }

  /**
   * Has the query's collection send `updateOne`/`replaceOne`/`deleteOne` as findAndModify returning the document
   * as it was: its old state comes with the write, exact without a transaction and without a read before it. The
   * answer is the one the original command gives; `modifiedCount` is whether the stored document changed.
   */
  private sendAsFindAndModify(query: AnyQuery, model: AnyModel, op: string, state: QueryState): boolean {
    const q = query as unknown as { mongooseCollection?: Raw };
    const collection = q.mongooseCollection;
    // Mongoose's internals as of 9.x; should they differ, the write is left alone and read before instead.
    if (typeof collection?.[op] !== 'function' || typeof collection[FIND_AND_MODIFY[op]!] !== 'function') return false;
    const send = (filter: Raw, ...args: unknown[]) => {
      q.mongooseCollection = collection;
      return this.singleWrite(model, collection, op, filter, args, state);
    };
    q.mongooseCollection = Object.create(collection, { [op]: { value: send } }) as Raw;
    return true;
  }

  private async singleWrite(model: AnyModel, collection: Raw, op: string, filter: Raw, args: unknown[], state: QueryState): Promise<Raw> {
    const deletes = op === 'deleteOne';
    const update = deletes ? null : (args[0] as Raw);
    const options = ((deletes ? args[0] : args[1]) ?? {}) as Raw;
    if ((options.writeConcern?.w ?? options.w) === 0) {
      // An unacknowledged write returns nothing to learn the old state from: read it first.
      state.before = await this.read(model, filter, { limit: 1, sort: options.sort, session: state.session }).catch((error: unknown) => {
        this.logger.reportError(error);
        return [];
      });
      return collection[op](filter, ...args);
    }
    // Where the write touches an omitted path, the whole document is needed to tell whether it changed.
    const whole = update !== null && this.touchesOmitted(model, update);
    const { new: _new, returnOriginal: _original, ...rest } = options;
    const sent = Object.assign({}, rest, { returnDocument: 'before', includeResultMetadata: true, projection: whole ? undefined : this.projectionFor(model) });
    const res = (deletes ? await collection.findOneAndDelete(filter, sent) : await collection[FIND_AND_MODIFY[op]!](filter, update, sent)) as Raw;
    const before = (res?.value ?? null) as Raw | null;
    state.before = before ? [before] : [];
    if (deletes) return { acknowledged: true, deletedCount: before ? 1 : 0 };
    const upsertedId = res?.lastErrorObject?.upserted;
    if (upsertedId !== undefined) return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 1, upsertedId };
    let modified = before !== null;
    if (before) {
      try {
        state.afters = await this.statesAfter(model, [before], update, state.session, whole);
        const after = state.afters.get(idOf(before));
        // A document gone before it could be read back was changed by this write all the same.
        modified = !after || diffObjects(before, after).length > 0;
      } catch (error) {
        this.logger.reportError(error);
      }
    }
    return { acknowledged: true, matchedCount: before ? 1 : 0, modifiedCount: modified ? 1 : 0, upsertedCount: 0, upsertedId: null };
  }

  /** Whether `update` may change a path the model leaves out (pipelines and replacements may change any). */
  private touchesOmitted(model: AnyModel, update: Raw): boolean {
    const omit = this.omitFor(model).omit;
    if (!omit) return false;
    if (Array.isArray(update) || !Object.keys(update).some((k) => k.startsWith('$'))) return true;
    const omitted = new Set(omit);
    for (const args of Object.values(update)) {
      for (const path of Object.keys((args ?? {}) as Raw)) {
        // Positional segments (`items.$.qty`) could be any element: compare up to the first one.
        const plain = path.split('.$')[0]!;
        if (isOmittedPath(plain, omitted) || omit.some((o) => o.startsWith(`${plain}.`))) return true;
      }
    }
    return false;
  }

  private afterUpdate(model: AnyModel, update: Raw | null, result: Raw, state: QueryState): void | Promise<void> {
    if (result?.upsertedId != null) {
      return this.readById(model, result.upsertedId, state.session).then((created) => {
        if (created) this.record(model, null, created, 'Created', state);
      });
    }
    if (!result || Number(result.modifiedCount ?? 0) === 0) return;
    const record = (afters: Map<string | null, Raw>) => {
      for (const before of state.before) {
        const after = afters.get(idOf(before));
        if (after) this.record(model, before, after, 'Updated', state);
      }
    };
    if (state.afters) return record(state.afters);
    return this.statesAfter(model, state.before, update, state.session).then(record);
  }

  private afterDelete(model: AnyModel, result: Raw, state: QueryState): void {
    if (!result || Number(result.deletedCount ?? 0) === 0) return;
    for (const before of state.before.slice(0, Number(result.deletedCount))) this.record(model, before, null, 'Deleted', state);
  }

  private afterFindAndModify(model: AnyModel, op: string, options: Raw, update: Raw | null, result: unknown, state: QueryState, query: AnyQuery): void | Promise<void> {
    const doc = result == null ? null : (plainOf(result) as Raw);
    if (op === 'findOneAndDelete') {
      if (doc) this.record(model, doc, null, 'Deleted', state);
      return;
    }
    const returnsAfter = options.new === true || options.returnDocument === 'after';
    if (returnsAfter) {
      if (!doc) return;
      const before = state.before[0];
      if (before && idOf(before) === idOf(doc)) this.record(model, before, doc, 'Updated', state);
      else if (!before && options.upsert) this.record(model, null, doc, 'Created', state);
      else this.record(model, null, doc, 'Updated', state); // another writer moved the match: the old state is unknown
      return;
    }
    if (doc) {
      return this.statesAfter(model, [doc], update, state.session).then((afters) => {
        const after = afters.get(idOf(doc));
        if (after) this.record(model, doc, after, 'Updated', state);
      });
    }
    if (options.upsert) {
      // Nothing matched, so the upsert inserted: the document is the one the filter now finds.
      return this.read(model, castFilter(query), { limit: 1, collation: options.collation, session: state.session }).then(([created]) => {
        if (created) this.record(model, null, created, 'Created', state);
      });
    }
  }

  /** New states by id: computed from the update where exact, read back by `_id` where not. */
  private async statesAfter(model: AnyModel, befores: Raw[], update: Raw | null, session: unknown, whole = false): Promise<Map<string | null, Raw>> {
    const out = new Map<string | null, Raw>();
    const unknown: unknown[] = [];
    for (const before of befores) {
      const computed = update ? applyUpdate(before, update) : undefined;
      if (computed) out.set(idOf(before), computed);
      else unknown.push(before._id);
    }
    if (unknown.length > 0) {
      for (const doc of await this.read(model, { _id: { $in: unknown } }, { session, whole })) out.set(idOf(doc), doc);
    }
    return out;
  }

  private async readById(model: AnyModel, id: unknown, session: unknown): Promise<Raw | null> {
    return (await this.read(model, { _id: id }, { limit: 1, session }))[0] ?? null;
  }

  /**
   * Whole stored documents, through the driver: a filter already cast, no Mongoose query to build, and no
   * middleware (neither this capture's nor soft-delete hiding). Buffered like any operation before connecting.
   */
  private async read(model: AnyModel, filter: Raw, options: { limit?: number; sort?: unknown; collation?: unknown; session?: unknown; whole?: boolean }): Promise<Raw[]> {
    const driverOptions: Raw = {};
    const projection = options.whole ? undefined : this.projectionFor(model);
    if (projection) driverOptions.projection = projection;
    if (options.limit !== undefined) driverOptions.limit = options.limit;
    if (options.sort) driverOptions.sort = options.sort;
    if (options.collation) driverOptions.collation = options.collation;
    if (options.session) driverOptions.session = options.session;
    const cursor = await (model.collection as any).find(filter, driverOptions);
    return (await cursor.toArray()) as Raw[];
  }

  // ---- bulkWrite --------------------------------------------------------------------------------------------

  /** Hands the model and the request's scope to the collection's bulkWrite, where ops are cast and results known. */
  beforeBulkWrite(model: AnyModel, ops: unknown[], options: Raw | undefined): unknown {
    if (!this.audits(model)) return undefined;
    try {
      this.wrapBulkWrite(model);
      const audit = { capture: this, model, context: this.logger.current() ?? null };
      const base = (model as any).base;
      return base.overwriteMiddlewareArguments(ops, { ...(options ?? {}), [BULK]: audit });
    } catch (error) {
      this.logger.reportError(error);
      return undefined;
    }
  }

  private wrapBulkWrite(model: AnyModel): void {
    const collection = model.collection as any;
    if (wrappedCollections.has(collection)) return;
    wrappedCollections.add(collection);
    const original = collection.bulkWrite;
    collection.bulkWrite = async function bulkWrite(this: unknown, ops: Raw[], options: Raw | undefined) {
      const audit = options?.[BULK as unknown as string] as { capture: MongooseCapture; model: AnyModel; context: RequestContext | null } | undefined;
      if (!audit) return original.call(collection, ops, options);
      const { [BULK as unknown as string]: _, ...clean } = options as Raw;
      const befores = await audit.capture.readBulkTargets(audit.model, ops, clean.session);
      const result = await original.call(collection, ops, clean);
      await audit.capture.recordBulk(audit.model, ops, befores, result, { context: audit.context, session: clean.session ?? null });
      return result;
    };
  }

  /** @internal */
  async readBulkTargets(model: AnyModel, ops: Raw[], session: unknown): Promise<Array<Raw[] | undefined>> {
    try {
      return await Promise.all(
        ops.map(async (op) => {
          const [kind, args] = Object.entries(op)[0] as [string, Raw];
          if (kind === 'insertOne') return undefined;
          // Mongoose has cast the operations by the time they reach the collection.
          const limit = kind.endsWith('Many') ? this.settings.maxDocumentsPerQuery + 1 : 1;
          return this.read(model, args.filter ?? {}, { limit, collation: args.collation, session });
        }),
      );
    } catch (error) {
      this.logger.reportError(error);
      return ops.map(() => undefined);
    }
  }

  /** @internal */
  async recordBulk(model: AnyModel, ops: Raw[], befores: Array<Raw[] | undefined>, result: Raw, base: { context: RequestContext | null; session: unknown }): Promise<void> {
    try {
      const state: QueryState = Object.assign({}, base, { before: [], overflow: false });
      const upserted = (result?.upsertedIds ?? {}) as Record<string, unknown>;
      for (const [index, op] of ops.entries()) {
        const [kind, args] = Object.entries(op)[0] as [string, Raw];
        if (kind === 'insertOne') {
          this.record(model, null, plainOf(args.document) as Raw, 'Created', state);
          continue;
        }
        if (upserted[index] !== undefined) {
          const created = await this.readById(model, upserted[index], base.session);
          if (created) this.record(model, null, created, 'Created', state);
          continue;
        }
        const before = befores[index];
        if (!before) continue;
        if (before.length > this.settings.maxDocumentsPerQuery) {
          const action = kind.startsWith('delete') ? 'Deleted' : 'Updated';
          this.recordSummary(model, action, args.filter, args.update ?? args.replacement ?? null, before.length - 1, state);
          continue;
        }
        if (kind.startsWith('delete')) {
          for (const doc of before) this.record(model, doc, null, 'Deleted', state);
          continue;
        }
        const afters = await this.statesAfter(model, before, (args.update ?? args.replacement) as Raw, base.session);
        for (const doc of before) {
          const after = afters.get(idOf(doc));
          if (after) this.record(model, doc, after, 'Updated', state);
        }
      }
    } catch (error) {
      this.logger.reportError(error);
    }
  }

  // ---- recording ------------------------------------------------------------------------------------------

  private record(queryModel: AnyModel, before: Raw | null, after: Raw | null, action: ModelChange['action'], state: { context: RequestContext | null; session: unknown }): void {
    const changed = diffObjects(before, after);
    // A write that left the document as it was is not a change (one that changed only omitted paths is
    // dropped when the document is built, where omitted paths are taken out).
    if (before && after && changed.length === 0) return;
    const model = modelOfDoc(queryModel, (after ?? before)!);
    const omit = this.omitFor(model).omit;
    const info = infoOf(model);
    // Written out, not spread: a spread followed by properties takes V8's slow path (~3 µs here).
    const change: ModelChange = {
      model: info.model,
      model_class_name: info.model_class_name,
      model_namespace: info.model_namespace,
      action,
      model_id: idOf(after ?? before),
      old_object: before,
      new_object: after,
      changed_fields: changed,
      // When the write happened (a change held for its transaction's commit keeps it).
      timestamp: new Date(),
    };
    if (omit) change.omit = omit;
    recordInSession(state.session, { change, context: state.context }, (p) => this.emit(p));
  }

  private recordSummary(model: AnyModel, action: ModelChange['action'], filter: unknown, update: unknown, matched: number, state: { context: RequestContext | null; session: unknown }): void {
    const change: ModelChange = Object.assign({}, infoOf(model), {
      action,
      model_id: null,
      old_object: null,
      new_object: null,
      query: { filter, update, matched },
      truncated: true,
      timestamp: new Date(),
    });
    recordInSession(state.session, { change, context: state.context }, (p) => this.emit(p));
  }

  /** Omitted paths are not read at all (a path inside another omitted one would collide). Computed once per model. */
  private projectionFor(model: AnyModel): Raw | undefined {
    if (this.projections.has(model)) return this.projections.get(model);
    const omit = this.omitFor(model).omit ?? [];
    const top = omit.filter((path) => path !== '_id' && !omit.some((other) => path.startsWith(`${other}.`)));
    const projection = top.length > 0 ? Object.fromEntries(top.map((path) => [path, 0])) : undefined;
    this.projections.set(model, projection);
    return projection;
  }

  /** The paths left out of the model's objects, worked out once per model (the same array each time). */
  private omitFor(model: AnyModel): { omit?: string[] } {
    let found = this.omits.get(model);
    if (!found) {
      const omit = [...this.settings.omitAll, ...this.settings.omitBySchema, ...(this.settings.omitByModel[model.modelName] ?? [])];
      found = omit.length > 0 ? { omit } : {};
      this.omits.set(model, found);
    }
    return found;
  }

  private emit(pending: PendingChange): void {
    this.guard(() => this.logger.recordModelChange(pending.change, pending.context));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.reportError(error);
    }
  }
}

/** The query's filter cast to its schema (ObjectIds, dates...), as Mongoose sends it; the query itself is left alone. */
function castFilter(query: AnyQuery): Raw {
  return query.cast(query.model, copyDocument(query.getFilter())) as Raw;
}

/** The session of `connection.transaction()` when Mongoose's `transactionAsyncLocalStorage` is on. */
function sessionFromStorage(model: AnyModel): unknown {
  return (model.db as any)?.base?.transactionAsyncLocalStorage?.getStore()?.session ?? null;
}
