import { tracingChannel } from 'node:diagnostics_channel';
import type { RequestContext } from 'actionlog';
import { copyDocument } from 'actionlog/adapter-kit';
import type { Document } from 'mongoose';
import { docState, idOf } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import { sessionFromStorage, type StoredDocuments } from './reads.js';
import type { ChangeRecorder } from './recorder.js';

/** What Mongoose's `mongoose:model:insertMany` tracing channel hands its subscribers (Mongoose 9.7+). */
interface TraceContext {
  args?: { docs?: unknown; options?: { session?: unknown; rawResult?: unknown } | null };
  result?: unknown;
  error?: unknown;
}

/** One `insertMany()` call whose middleware ran, followed until it settles. */
interface InsertCall {
  model: AnyModel;
  context: RequestContext | null;
  writes: InsertManyWrites;
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
  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
  ) {
    followTraces();
  }

  /** `pre('insertMany')`: the call is followed to its end. */
  before(model: AnyModel, docs: unknown): void {
    if (docs === null || typeof docs !== 'object' || !traces(model) || !this.recorder.records(model)) return;
    const ctx = started.get(docs);
    if (!ctx) return;
    started.delete(docs);
    calls.set(ctx, { model, context: this.recorder.logger.current() ?? null, writes: this });
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
    // A raw result names the inserted documents by id only: they are read back.
    const ids = Object.values((ctx.result as { insertedIds?: Record<string, unknown> } | null)?.insertedIds ?? {});
    if (ids.length === 0) return;
    this.reads.read(call.model, { _id: { $in: ids } }, { session }).then(
      (docs) => {
        const byId = new Map(docs.map((d) => [idOf(d), d]));
        const ordered = ids.map((id) => byId.get(idOf({ _id: id }))).filter((d) => d !== undefined);
        this.record(call.model, ordered, call.context, session);
      },
      (error: unknown) => {
        this.recorder.reportError(error);
      },
    );
  }

  private record(model: AnyModel, docs: unknown[], context: RequestContext | null, session: unknown): void {
    this.recorder.guard(() => {
      for (const doc of docs) {
        if (doc === null || typeof doc !== 'object') continue;
        // Lean documents are the caller's own objects, with the `_id` the driver gave them: copied.
        const raw = isDocumentOf(model, doc) ? docState(doc) : copyDocument(doc as Raw);
        const own = isDocumentOf(model, doc) ? doc.$session() : null;
        this.recorder.record(model, null, raw, 'Created', { context, session: own ?? session });
      }
    });
  }
}
