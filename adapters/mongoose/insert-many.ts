import { tracingChannel } from 'node:diagnostics_channel';
import type { RequestContext } from 'actionlog';
import type { Document } from 'mongoose';
import { asStored, docState, ignoresUndefined } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import { sessionFromStorage } from './reads.js';
import type { ChangeRecorder } from './recorder.js';
import { isUnacknowledged } from './write-concern.js';

/** What Mongoose's `mongoose:model:insertMany` tracing channel hands its subscribers (Mongoose 9.7+). */
interface TraceContext {
  args?: {
    docs?: unknown;
    options?: { session?: unknown; rawResult?: unknown; lean?: unknown; w?: unknown; writeConcern?: { w?: unknown } } | null;
  };
  result?: unknown;
  error?: unknown;
}

/** One `insertMany()` call whose middleware ran, followed until it settles. */
interface InsertCall {
  model: AnyModel;
  context: RequestContext | null;
  writes: InsertManyWrites;
  /** With `rawResult`, which answers ids only: the documents inserted are among these. */
  docs: unknown[];
}

// Per copy of this module: each follows the calls its own plugins noted.
const started = new WeakMap<object, TraceContext>();
const calls = new WeakMap<TraceContext, InsertCall>();
let subscribed = false;

function followTraces(): void {
  if (subscribed) return;
  subscribed = true;
  tracingChannel<unknown, TraceContext>('mongoose:model:insertMany').subscribe({
    start(ctx) {
      const docs = ctx.args?.docs;
      if (docs !== null && typeof docs === 'object') started.set(docs, ctx);
    },
    end() {},
    asyncStart() {},
    error() {},
    // Published once the call settles, whichever way.
    asyncEnd(ctx) {
      const call = calls.get(ctx);
      if (!call) return;
      calls.delete(ctx);
      call.writes.settled(call, ctx);
    },
  });
}

/** Whether this Mongoose publishes insertMany on its tracing channel (9.7 and later). */
function traces(model: AnyModel): boolean {
  const version = (model.base as { version?: unknown }).version;
  const [major = 0, minor = 0] = (typeof version === 'string' ? version : '').split('.').map(Number);
  return major > 9 || (major === 9 && minor >= 7);
}

const isDocumentOf = (model: AnyModel, value: unknown): value is Document => value instanceof model;

/**
 * Records `Model.insertMany()`: each document inserted, also when others failed (a duplicate key in an unordered
 * insert: the error's `insertedDocs`) and with options after which Mongoose runs no middleware (`rawResult`,
 * `populate`, `throwOnValidationError`). Mongoose 9.7+ is followed through its tracing channel, which sees every
 * outcome; before that, through post middleware, which sees the documents returned and `insertedDocs`.
 */
export class InsertManyWrites {
  constructor(private readonly recorder: ChangeRecorder) {
    followTraces();
  }

  /**
   * `pre('insertMany')`: the call is followed to its end. With `rawResult`, the documents are made here, as
   * Mongoose would make them, so that those inserted are known once it answers with their ids only.
   */
  before(model: AnyModel, docs: unknown): unknown {
    if (docs === null || typeof docs !== 'object' || !traces(model) || !this.recorder.records(model)) return undefined;
    const ctx = started.get(docs);
    if (!ctx) return undefined;
    started.delete(docs);
    const call: InsertCall = { model, context: this.recorder.logger.current() ?? null, writes: this, docs: [] };
    calls.set(ctx, call);
    const options = ctx.args?.options;
    if (!options?.rawResult || !Array.isArray(docs)) return undefined;
    if (options.lean) {
      call.docs = docs;
      return undefined;
    }
    call.docs = (docs as unknown[]).map((doc) =>
      doc === null || typeof doc !== 'object' || doc instanceof model ? doc : (new model(doc) as unknown),
    );
    return (model.base as { overwriteMiddlewareArguments(...args: unknown[]): unknown }).overwriteMiddlewareArguments(call.docs);
  }

  /** `post('insertMany')`, where Mongoose has no tracing channel. */
  inserted(model: AnyModel, docs: unknown): void {
    if (traces(model) || !this.recorder.records(model) || !Array.isArray(docs)) return;
    this.record(model, docs, this.recorder.logger.current() ?? null, sessionFromStorage(model));
  }

  /** The error middleware of `insertMany`, where Mongoose has no tracing channel: the documents inserted before it failed. */
  failed(model: AnyModel, error: unknown): void {
    const inserted = (error as { insertedDocs?: unknown } | null)?.insertedDocs;
    this.inserted(model, inserted);
  }

  /** A followed call settled: what it inserted, from its result or its error. */
  settled(call: InsertCall, ctx: TraceContext): void {
    const options = ctx.args?.options ?? {};
    if (isUnacknowledged(options)) return;
    const session = options.session ?? sessionFromStorage(call.model);
    if (ctx.error !== undefined) {
      const error = ctx.error as { insertedDocs?: unknown; results?: unknown };
      // throwOnValidationError: the valid documents were inserted, and are in `results` with the errors.
      const docs = Array.isArray(error.insertedDocs)
        ? error.insertedDocs
        : Array.isArray(error.results)
          ? error.results.filter((r) => isDocumentOf(call.model, r))
          : [];
      this.record(call.model, docs, call.context, session);
      return;
    }
    if (!options.rawResult) {
      this.record(call.model, Array.isArray(ctx.result) ? ctx.result : [], call.context, session);
      return;
    }
    // A raw result names the inserted documents by id only.
    const ids = new Set(Object.values((ctx.result as { insertedIds?: Record<string, unknown> } | null)?.insertedIds ?? {}).map(String));
    const inserted = call.docs.filter((doc) => doc !== null && typeof doc === 'object' && ids.has(String((doc as Raw)._id)));
    this.record(call.model, inserted, call.context, session);
  }

  private record(model: AnyModel, docs: unknown[], context: RequestContext | null, session: unknown): void {
    this.recorder.guard(() => {
      for (const doc of docs) {
        if (doc === null || typeof doc !== 'object') continue;
        // Lean documents are the caller's own objects, with the `_id` the driver gave them: copied as stored.
        const raw = isDocumentOf(model, doc) ? docState(doc) : (asStored(doc, ignoresUndefined(model)) as Raw);
        const own = isDocumentOf(model, doc) ? doc.$session() : null;
        this.recorder.record(model, null, raw, 'Created', { context, session: own ?? session });
      }
    });
  }
}
