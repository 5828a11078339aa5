import { copyDocument } from 'actionlog/adapter-kit';
import { FIND_AND_MODIFY, type FindAndModifyWrites, type QueryState } from './find-and-modify.js';
import { idOf, plainOf } from './model-info.js';
import type { AnyModel, AnyQuery, Raw } from './mongoose-types.js';
import { castFilter, sessionFromStorage, type StoredDocuments } from './reads.js';
import type { ChangeRecorder } from './recorder.js';

/** Query-level writes Mongoose has middleware for. */
export const QUERY_WRITES = [
  'updateOne',
  'updateMany',
  'replaceOne',
  'deleteOne',
  'deleteMany',
  'findOneAndUpdate',
  'findOneAndReplace',
  'findOneAndDelete',
] as const;

/** Writes a query can make, by what it touches and what it returns. */
const SINGLE = new Set(['updateOne', 'replaceOne', 'deleteOne', 'findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete']);
const RETURNS_DOC = new Set(['findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete']);
const DELETES = new Set(['deleteOne', 'deleteMany', 'findOneAndDelete']);

const states = new WeakMap<AnyQuery, QueryState>();

const opOf = (query: AnyQuery) => (query as unknown as { op: string }).op;

/**
 * Records query-level writes: the documents a write will touch are known before it (read, or returned by the
 * write itself), their new states after it (computed from the update where exact, else read back).
 */
export class QueryWrites {
  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
    private readonly findAndModify: FindAndModifyWrites | undefined,
  ) {}

  before(query: AnyQuery): void | Promise<void> {
    try {
      const model = query.model as AnyModel;
      if (!this.recorder.records(model)) return;
      const op = opOf(query);
      const options = query.getOptions() as Raw;
      const state: QueryState = Object.assign(this.recorder.scope(options.session ?? sessionFromStorage(model)), {
        before: [],
        overflow: false,
      });
      states.set(query, state);
      if (FIND_AND_MODIFY[op] && this.findAndModify?.send(query, model, op, state)) return;
      const returnsAfter = options.new === true || options.returnDocument === 'after';
      // findOneAnd* returning the document as it was need no read: the result is the old state.
      if (RETURNS_DOC.has(op) && !returnsAfter) return;
      const limit = SINGLE.has(op) ? 1 : this.recorder.maxDocumentsPerQuery + 1;
      return this.reads
        .read(model, castFilter(query), { limit, sort: options.sort, collation: options.collation, session: state.session })
        .then(
          (before) => {
            state.before = before;
            state.overflow = before.length > this.recorder.maxDocumentsPerQuery;
          },
          (error: unknown) => {
            states.delete(query);
            this.recorder.reportError(error);
          },
        );
    } catch (error) {
      states.delete(query);
      this.recorder.reportError(error);
    }
  }

  after(query: AnyQuery, result: unknown): void | Promise<void> {
    const state = states.get(query);
    if (!state) return;
    states.delete(query);
    try {
      const model = query.model as AnyModel;
      const op = opOf(query);
      const options = query.getOptions() as Raw;
      const update = query.getUpdate() as Raw | null;
      if (state.overflow) {
        const counts = result as Raw | null;
        const matched = Number(counts?.matchedCount ?? counts?.deletedCount ?? state.before.length);
        this.recorder.recordSummary(
          model,
          DELETES.has(op) ? 'Deleted' : 'Updated',
          copyDocument(query.getFilter()),
          update,
          matched,
          state,
        );
        return;
      }
      if (DELETES.has(op) && !RETURNS_DOC.has(op)) {
        this.afterDelete(model, result as Raw | null, state);
        return;
      }
      const pending = RETURNS_DOC.has(op)
        ? this.afterFindAndModify(model, op, options, update, result, state, query)
        : this.afterUpdate(model, update, result as Raw | null, state);
      return pending?.catch((error: unknown) => {
        this.recorder.reportError(error);
      });
    } catch (error) {
      this.recorder.reportError(error);
    }
  }

  private afterUpdate(model: AnyModel, update: Raw | null, result: Raw | null, state: QueryState): Promise<void> | undefined {
    if (result?.upsertedId != null) {
      return this.reads.readById(model, result.upsertedId, state.session).then((created) => {
        if (created) this.recorder.record(model, null, created, 'Created', state);
      });
    }
    if (!result || Number(result.modifiedCount ?? 0) === 0) return;
    const record = (afters: Map<string | null, Raw>) => {
      for (const before of state.before) {
        const after = afters.get(idOf(before));
        if (after) this.recorder.record(model, before, after, 'Updated', state);
      }
    };
    if (state.afters) {
      record(state.afters);
      return;
    }
    return this.reads.statesAfter(model, state.before, update, state.session).then(record);
  }

  private afterDelete(model: AnyModel, result: Raw | null, state: QueryState): void {
    if (!result || Number(result.deletedCount ?? 0) === 0) return;
    for (const before of state.before.slice(0, Number(result.deletedCount))) this.recorder.record(model, before, null, 'Deleted', state);
  }

  private afterFindAndModify(
    model: AnyModel,
    op: string,
    options: Raw,
    update: Raw | null,
    result: unknown,
    state: QueryState,
    query: AnyQuery,
  ): Promise<void> | undefined {
    const doc = result == null ? null : (plainOf(result) as Raw);
    if (op === 'findOneAndDelete') {
      if (doc) this.recorder.record(model, doc, null, 'Deleted', state);
      return;
    }
    const returnsAfter = options.new === true || options.returnDocument === 'after';
    if (returnsAfter) {
      if (!doc) return;
      const before = state.before[0];
      if (before && idOf(before) === idOf(doc)) this.recorder.record(model, before, doc, 'Updated', state);
      else if (!before && options.upsert) this.recorder.record(model, null, doc, 'Created', state);
      else this.recorder.record(model, null, doc, 'Updated', state); // another writer moved the match: the old state is unknown
      return;
    }
    if (doc) {
      return this.reads.statesAfter(model, [doc], update, state.session).then((afters) => {
        const after = afters.get(idOf(doc));
        if (after) this.recorder.record(model, doc, after, 'Updated', state);
      });
    }
    if (options.upsert) {
      // Nothing matched, so the upsert inserted: the document is the one the filter now finds.
      return this.reads
        .read(model, castFilter(query), { limit: 1, collation: options.collation, session: state.session })
        .then(([created]) => {
          if (created) this.recorder.record(model, null, created, 'Created', state);
        });
    }
  }
}
