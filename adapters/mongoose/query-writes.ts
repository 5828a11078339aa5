import { copyDocument, diffObjects } from 'actionlog/adapter-kit';
import type { FindAndModifyWrites } from './find-and-modify.js';
import { idOf } from './model-info.js';
import type { AnyModel, AnyQuery, Raw } from './mongoose-types.js';
import type { QueryState, WriteOutcome } from './query-state.js';
import { castFilter, sessionFromStorage, type StoredDocuments } from './reads.js';
import type { ChangeRecorder, WriteScope } from './recorder.js';
import { isUnacknowledged } from './write-concern.js';

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

function take(query: AnyQuery): QueryState | undefined {
  const state = states.get(query);
  states.delete(query);
  return state;
}

/**
 * Records query-level writes. Single-document writes are sent as findAndModify (see `FindAndModifyWrites`) and
 * record what its reply says; otherwise the documents a write may touch are read before it, and their new states
 * computed from the update where exact, else read back. A multi-document write that fails part way is read back.
 */
export class QueryWrites {
  private reportedUnsupported = false;

  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
    private readonly findAndModify: FindAndModifyWrites,
  ) {}

  before(query: AnyQuery): void | Promise<void> {
    try {
      const model = query.model as AnyModel;
      if (!this.recorder.records(model)) return;
      const op = opOf(query);
      const options = query.getOptions() as Raw;
      if (isUnacknowledged(options)) return;
      const state: QueryState = Object.assign(this.recorder.scope(options.session ?? sessionFromStorage(model)), {
        before: [],
        overflow: false,
      });
      states.set(query, state);
      if (this.findAndModify.send(query, model, op, state)) return;
      if (RETURNS_DOC.has(op)) {
        // Their reply alone cannot tell what was written (projections, inserts): only sent as findAndModify.
        states.delete(query);
        this.unsupported(op);
        return;
      }
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
    const state = take(query);
    if (!state) return;
    try {
      const model = query.model as AnyModel;
      const op = opOf(query);
      if (state.outcome) {
        this.recordOutcome(model, state.outcome, state);
        return;
      }
      // A findOneAnd* that sent nothing (an empty update is a plain find).
      if (RETURNS_DOC.has(op)) return;
      if (state.overflow) {
        this.recordSummary(query, result as Raw | null, state);
        return;
      }
      if (DELETES.has(op)) return this.afterDelete(query, result as Raw | null, state);
      return this.afterUpdate(query, result as Raw | null, state)?.catch((error: unknown) => {
        this.recorder.reportError(error);
      });
    } catch (error) {
      this.recorder.reportError(error);
    }
  }

  /**
   * A write that failed: a multi-document one may have changed some documents before it stopped (a duplicate key
   * on the third of five), so those it may have touched are read back and what changed is recorded.
   */
  failed(query: AnyQuery): void | Promise<void> {
    const state = take(query);
    if (!state || SINGLE.has(opOf(query)) || state.before.length === 0) return;
    return this.recordReadBack(query, state);
  }

  /** Reads back by `_id` the documents read before the write, and records those it changed or removed. */
  private recordReadBack(query: AnyQuery, state: QueryState): Promise<void> {
    const model = query.model as AnyModel;
    const ids = state.before.map((doc) => doc._id);
    return this.reads
      .read(model, { _id: { $in: ids } }, { session: state.session })
      .then((found) => {
        const now = new Map(found.map((doc) => [idOf(doc), doc]));
        const changed = state.before.filter((doc) => diffObjects(doc, now.get(idOf(doc)) ?? null).length > 0);
        if (changed.length === 0) return;
        if (state.overflow) {
          this.recordSummary(query, { matchedCount: changed.length }, state);
          return;
        }
        for (const doc of changed) this.recordOutcome(model, { before: doc, after: now.get(idOf(doc)) ?? null }, state);
      })
      .catch((error: unknown) => {
        this.recorder.reportError(error);
      });
  }

  /** Mongoose's internals are not as this version expects: said once, not on every write. */
  private unsupported(op: string): void {
    if (this.reportedUnsupported) return;
    this.reportedUnsupported = true;
    this.recorder.reportError(new Error(`actionlog: ${op}() is not recorded: this version of Mongoose does not send it as expected`));
  }

  private recordOutcome(model: AnyModel, outcome: WriteOutcome, scope: WriteScope): void {
    const { before, after } = outcome;
    if (!before && !after) return;
    const action = before ? (after ? 'Updated' : 'Deleted') : outcome.beforeUnknown ? 'Updated' : 'Created';
    this.recorder.record(model, before, after, action, scope);
  }

  private recordSummary(query: AnyQuery, counts: Raw | null, state: QueryState): void {
    const matched = Number(counts?.matchedCount ?? counts?.deletedCount ?? state.before.length);
    const action = DELETES.has(opOf(query)) ? 'Deleted' : 'Updated';
    this.recorder.recordSummary(query.model as AnyModel, action, copyDocument(query.getFilter()), query.getUpdate(), matched, state);
  }

  /**
   * The documents read before a write are those its filter matched when actionlog's pre hook ran. A pre hook
   * registered after it (a tenant or soft-delete plugin) can only add conditions, so the write touched a subset of
   * them: when its own count is below the changes expected of them, which it touched is read back.
   */
  private afterUpdate(query: AnyQuery, result: Raw | null, state: QueryState): Promise<void> | undefined {
    const model = query.model as AnyModel;
    if (result?.upsertedId != null) {
      return this.reads.readById(model, result.upsertedId, state.session).then((created) => {
        if (created) this.recorder.record(model, null, created, 'Created', state);
      });
    }
    const modified = Number(result?.modifiedCount ?? 0);
    if (modified === 0) return;
    return this.reads.statesAfter(model, state.before, query.getUpdate() as Raw | null, state.session).then((afters) => {
      const changes = state.before.flatMap((before) => {
        const after = afters.get(idOf(before));
        return after && diffObjects(before, after).length > 0 ? [{ before, after }] : [];
      });
      if (modified < changes.length) return this.recordReadBack(query, state);
      for (const { before, after } of changes) this.recorder.record(model, before, after, 'Updated', state);
    });
  }

  /** As `afterUpdate`: fewer deleted than read before, and which were is read back. */
  private afterDelete(query: AnyQuery, result: Raw | null, state: QueryState): Promise<void> | undefined {
    const deleted = Number(result?.deletedCount ?? 0);
    if (deleted === 0) return;
    if (deleted < state.before.length) return this.recordReadBack(query, state);
    for (const before of state.before) this.recorder.record(query.model as AnyModel, before, null, 'Deleted', state);
  }
}
