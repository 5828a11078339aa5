import { diffObjects, isOmittedPath } from 'actionlog/adapter-kit';
import { idOf } from './model-info.js';
import type { AnyModel, AnyQuery, CollectionMethod, FindAndModifyReply, Raw } from './mongoose-types.js';
import { sendQueryThrough } from './patches.js';
import { isTopLevelProjection } from './projection.js';
import type { QueryState, WriteOutcome } from './query-state.js';
import type { StoredDocuments } from './reads.js';
import type { ChangeRecorder } from './recorder.js';
import { countsReply, documentReply } from './write-replies.js';

/** Single-document writes, and the findAndModify command each is sent as. */
const COMMANDS: Readonly<Record<string, 'findOneAndUpdate' | 'findOneAndReplace' | 'findOneAndDelete'>> = {
  updateOne: 'findOneAndUpdate',
  replaceOne: 'findOneAndReplace',
  deleteOne: 'findOneAndDelete',
  findOneAndUpdate: 'findOneAndUpdate',
  findOneAndReplace: 'findOneAndReplace',
  findOneAndDelete: 'findOneAndDelete',
};

/** One intercepted call, as Mongoose hands it to its collection. */
interface Call {
  op: string;
  command: string;
  /** The update or replacement; null for a delete. */
  update: Raw | null;
  options: Raw;
  /** `findOneAnd*`: the caller gets a document back, not counts. */
  returnsDocument: boolean;
  /** The caller asked for the document as it became. */
  wantsAfter: boolean;
}

function callOf(op: string, args: unknown[]): Call {
  const deletes = op === 'deleteOne' || op === 'findOneAndDelete';
  const options = ((deletes ? args[0] : args[1]) ?? {}) as Raw;
  const returnsDocument = op.startsWith('findOneAnd');
  return {
    op,
    command: COMMANDS[op] ?? op,
    update: deletes ? null : (args[0] as Raw),
    options,
    returnsDocument,
    wantsAfter: returnsDocument && options.returnDocument === 'after',
  };
}

/** Calls a method of Mongoose's collection as a method: it needs its `this`. */
function callMethod(collection: Record<string, CollectionMethod>, name: string, ...args: unknown[]): Promise<unknown> {
  const method = collection[name];
  if (!method) return Promise.reject(new Error(`actionlog: the collection has no ${name}()`));
  return method.apply(collection, args);
}

/**
 * Single-document writes sent as findAndModify returning the whole document: `updateOne`/`replaceOne`/`deleteOne`
 * (unless `singleDocumentWrites: 'readBefore'`) and every `findOneAnd*`. The old state comes with the write, exact
 * without a transaction; the caller gets the answer its own command gives (counts, or the document as it asked
 * for it: before or after, projected, with or without result metadata).
 */
export class FindAndModifyWrites {
  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
    /** Whether `updateOne`/`replaceOne`/`deleteOne` go this way too. */
    private readonly countWrites: boolean,
  ) {}

  /** Sends the query's write this way; false when it is not one of these, or when Mongoose's internals differ. */
  send(query: AnyQuery, model: AnyModel, op: string, state: QueryState): boolean {
    const command = COMMANDS[op];
    if (command === undefined || (!this.countWrites && !op.startsWith('findOneAnd'))) return false;
    return sendQueryThrough(query, op, command, (collection, filter, ...args) =>
      this.write(model, collection, filter, callOf(op, args), state),
    );
  }

  private async write(
    model: AnyModel,
    collection: Record<string, CollectionMethod>,
    filter: Raw,
    call: Call,
    state: QueryState,
  ): Promise<unknown> {
    if (!isTopLevelProjection(call.options.projection)) return this.writeProjected(model, collection, filter, call, state);
    // The document as it became is taken from the server, as the caller asked; the old state is then read first.
    const first = call.wantsAfter ? await this.readFirst(model, filter, call.options, state) : [];
    const whole = call.returnsDocument || (call.update !== null && this.touchesOmitted(model, call.update));
    const { new: _new, returnOriginal: _original, projection: _projection, fields: _fields, ...rest } = call.options;
    const sent = Object.assign({}, rest, {
      returnDocument: call.wantsAfter ? 'after' : 'before',
      includeResultMetadata: true,
      projection: whole ? undefined : this.reads.projectionFor(model),
    });
    const reply = (await callMethod(
      collection,
      call.command,
      filter,
      ...(call.update === null ? [sent] : [call.update, sent]),
    )) as FindAndModifyReply | null;
    const outcome = await this.outcomeOf(model, call, reply, first[0] ?? null, state, whole);
    state.outcome = outcome.recorded;
    return call.returnsDocument ? documentReply(reply, call.options) : countsReply(call.op, reply, outcome.modified);
  }

  /**
   * A projection only the server can apply (dotted paths, `$slice`, `$elemMatch`...): the command goes as the caller
   * wrote it, asking for the result metadata too (which tells whether it matched or inserted); the document it
   * touches is read first.
   */
  private async writeProjected(
    model: AnyModel,
    collection: Record<string, CollectionMethod>,
    filter: Raw,
    call: Call,
    state: QueryState,
  ): Promise<unknown> {
    const [first] = await this.readFirst(model, filter, call.options, state);
    const sent = Object.assign({}, call.options, { includeResultMetadata: true });
    const reply = (await callMethod(
      collection,
      call.command,
      filter,
      ...(call.update === null ? [sent] : [call.update, sent]),
    )) as FindAndModifyReply | null;
    state.outcome = await this.projectedOutcome(model, call, reply, first ?? null, state);
    return call.options.includeResultMetadata ? reply : (reply?.value ?? null);
  }

  private async projectedOutcome(
    model: AnyModel,
    call: Call,
    reply: FindAndModifyReply | null,
    first: Raw | null,
    state: QueryState,
  ): Promise<WriteOutcome> {
    try {
      const upserted = reply?.lastErrorObject?.upserted;
      if (upserted !== undefined) return { before: null, after: await this.reads.readById(model, upserted, state.session) };
      if (!first || !(Number(reply?.lastErrorObject?.n ?? 0) > 0)) return { before: null, after: null };
      if (call.update === null) return { before: first, after: null };
      const afters = await this.reads.statesAfter(model, [first], call.update, state.session, true);
      return { before: first, after: afters.get(idOf(first)) ?? null };
    } catch (error) {
      this.recorder.reportError(error);
      return { before: null, after: null };
    }
  }

  /** What the write did, from its reply; `modified` is whether the stored document changed. */
  private async outcomeOf(
    model: AnyModel,
    call: Call,
    reply: FindAndModifyReply | null,
    first: Raw | null,
    state: QueryState,
    whole: boolean,
  ): Promise<{ recorded: WriteOutcome; modified: boolean }> {
    const value = reply?.value ?? null;
    const upserted = reply?.lastErrorObject?.upserted;
    if (call.update === null) return { recorded: { before: value, after: null }, modified: value !== null };
    try {
      if (upserted !== undefined) {
        const created = call.wantsAfter ? value : await this.reads.readById(model, upserted, state.session);
        return { recorded: { before: null, after: created }, modified: false };
      }
      if (value === null) return { recorded: { before: null, after: null }, modified: false };
      // Another writer may have moved the match between the read and the write: the old state is then unknown.
      if (call.wantsAfter) {
        const known = first !== null && idOf(first) === idOf(value);
        return { recorded: { before: known ? first : null, after: value, beforeUnknown: !known }, modified: true };
      }
      const after = (await this.reads.statesAfter(model, [value], call.update, state.session, whole)).get(idOf(value)) ?? null;
      // A document gone before it could be read back was changed by this write all the same.
      return { recorded: { before: value, after }, modified: !after || diffObjects(value, after).length > 0 };
    } catch (error) {
      this.recorder.reportError(error);
      return { recorded: { before: null, after: null }, modified: value !== null || upserted !== undefined };
    }
  }

  /** The document a single-document write will touch, whole: the first match, in its sort order. */
  private async readFirst(model: AnyModel, filter: Raw, options: Raw, state: QueryState): Promise<Raw[]> {
    return this.reads
      .read(model, filter, { limit: 1, sort: options.sort, collation: options.collation, session: state.session, whole: true })
      .catch((error: unknown) => {
        this.recorder.reportError(error);
        return [];
      });
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
