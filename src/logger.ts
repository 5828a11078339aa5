import type { Readable } from 'node:stream';
import { z } from 'zod';
import { DocumentBuilder } from './build/document-builder.js';
import { KeyRedactor } from './build/sanitize/redactor.js';
import { Sanitizer } from './build/sanitize/sanitizer.js';
import { redactText } from './build/text.js';
import { redactUrl } from './build/url.js';
import { actionEntry } from './build/action-entry.js';
import { type DeactivateOptions, deactivationDraft } from './capture/action/deactivation.js';
import {
  AttachmentBudget,
  type AttachmentInput,
  type CapturedAttachment,
  parseAttachments,
  releaseStreams,
} from './capture/action/attachments.js';
import type { ActionDraft } from './capture/action/draft.js';
import { freeObject } from './capture/action/fields.js';
import { type ActionInput, ActionParser } from './capture/action/schema.js';
import { type ActivityInput, activitySchema } from './capture/activity.js';
import { contextStorage, RequestContext, type ScopeEnding, type ScopeEvents, type ScopeInit } from './capture/context.js';
import { REQUEST_ID } from './capture/ids.js';
import { checkModelChange, type ModelChange } from './capture/model-change.js';
import { defaultDescribeUser, storedUserRef } from './capture/user.js';
import { type ActionLoggerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type {
  ActionEntry,
  ActionLogDocument,
  ChainHead,
  IntegrityLink,
  ActivityDocument,
  RequestAppend,
  ResponseDetails,
  StoreBatch,
  StoredAttachment,
  UserRef,
} from './shared/document.js';
import {
  ActionLogClosedError,
  ActionLogConfigError,
  ActionLogError,
  ActionLogStoreError,
  ActionLogValidationError,
  errorSummary,
  thrownText,
} from './shared/errors.js';
import { finishesWithin } from './shared/deadline.js';
import { fromZodIssues } from './shared/zod-issues.js';
import type { EntryKind, EntryOf, FacetCount, FacetField, Store } from './stores/store.js';
import { planPurge, type PurgeCounts, type PurgeOptions, type PurgeResult, purgeEntries } from './stores/purge.js';
import { archiveEntries, type ArchiveOptions, isStore, planArchive } from './stores/archive.js';
import type { QueryFilter } from './read/filter.js';
import { parseLatestArgs } from './read/latest.js';
import type { ExportStream } from './read/export.js';
import { type ExportOptions, type HistoryItem, type Page, type PageOptions, TrailReader } from './read/reader.js';
import { LabelBook, type LabelKind } from './read/labels.js';
import type { RecordState } from './read/state-at.js';
import type { TailItem, TailOptions } from './read/tail.js';
import { BatchWriter, type BuiltBatch, type WriterStats } from './write/batch-writer.js';
import { mapYielding } from './write/yielding-map.js';
import { appendStep, batchStep, orderedStep, type QuarantinedDocument, setupStep, type WriteStep } from './write/write-step.js';
import { type DocumentUnit, mergeBatch, mergeUnits } from './write/document-unit.js';
import { documentsOf, emptyBatch } from './shared/batch-units.js';
import { lineMac } from './write/spool/spool-line.js';
import { SpooledWriter } from './write/spool/spooled-writer.js';
import { type HeldEvent, type ReadyEvent, StrictWrites } from './strict-writes.js';
import { HealthMonitor, type HealthOptions, type HealthReport } from './health.js';
import { installShutdownHandlers, type ShutdownOptions } from './shutdown.js';
import { newestLinks } from './build/integrity/chain.js';
import { TrailSeal } from './integrity.js';
import { type VerifyOptions, type VerifyReport, verifyTrail } from './read/verify.js';
import { newUuid } from './shared/uuid.js';
import { storable } from './shared/strings.js';

/** What `logger.run()` knows about a job, script or consumer run. */
export interface RunMeta {
  /** Module of the run's document; default the logger's `module`. */
  module?: string;
  /** Who the run acts for (anything `describeUser` understands); default the enclosing scope's user. */
  user?: unknown;
  /** Use this id instead of a new uuid (e.g. a message id), same rules as `X-Request-Id`. */
  requestUuid?: string;
  /** Default: the enclosing scope's correlation id. */
  correlationId?: string;
  /** Stored in `details.run.metadata`. */
  metadata?: Record<string, unknown>;
}

const runMetaSchema = z.strictObject({
  module: z.string().min(1, 'must not be empty').optional(),
  user: z.unknown().optional(),
  requestUuid: z.string().regex(REQUEST_ID, 'must be 1-128 characters of [A-Za-z0-9._:-]').optional(),
  // Made storable as every other string: a correlation id with U+0000 would make PostgreSQL refuse the document.
  correlationId: z.string().min(1).max(256).transform(storable).optional(),
  metadata: freeObject.optional(),
});

type QueueItem =
  | { kind: 'request'; ctx: RequestContext }
  | { kind: 'append'; ctx: RequestContext }
  | { kind: 'activity'; doc: ActivityDocument }
  /** A request's document built for a strict write that failed, queued to be retried as it is. */
  | { kind: 'built'; batch: StoreBatch };

/** Loggers not closed yet, checked when the process exits; one list per process, whichever copy of the package. */
const OPEN_LOGGERS = Symbol.for('actionlog.open-loggers');
const openLoggers: Set<WeakRef<ActionLogger>> = ((globalThis as { [OPEN_LOGGERS]?: Set<WeakRef<ActionLogger>> })[OPEN_LOGGERS] ??=
  watchExit(new Set()));

/** At exit, each logger still holding documents says so: `process.exit()` without `close()` loses them. */
function watchExit(loggers: Set<WeakRef<ActionLogger>>): Set<WeakRef<ActionLogger>> {
  process.on('exit', () => {
    for (const ref of loggers) ref.deref()?.warnIfUnstored();
  });
  return loggers;
}

/** Creates a logger. Options are validated here, once; see `ActionLoggerOptions`. */
export function createActionLogger(options: ActionLoggerOptions): ActionLogger {
  return new ActionLogger(options);
}

/** Records model changes, actions and activities into per-request documents and writes them in batches. */
export class ActionLogger {
  private readonly options: ResolvedOptions;
  private readonly redactor: KeyRedactor;
  private readonly sanitizer: Sanitizer;
  private readonly store: Store;
  private readonly builder: DocumentBuilder;
  private readonly writer: BatchWriter<QueueItem> | SpooledWriter<QueueItem>;
  private readonly strict: StrictWrites;
  private readonly monitor = new HealthMonitor();
  /** The first `close()`, which later calls wait for. */
  private closeCall: Promise<{ left: number }> | undefined;
  /** Tamper evidence, when the `integrity` option is given. */
  private readonly seal: TrailSeal | undefined;
  /** Units built and sealed here for the spool: their links are confirmed once stored, read back or not. */
  private readonly sealedUnits = new WeakSet<DocumentUnit>();
  private readonly actions: ActionParser;
  private readonly describeUser: (user: unknown) => UserRef | null;
  /** Tells `onError` of the application's code that failed while read by a scope (its `user` and address readers). */
  private readonly reportCapture = (error: unknown): void => {
    this.report(error);
  };
  private readonly reader: TrailReader;
  /** Aborted by `close()`: ends every tail of this logger, whose store is about to close. */
  private readonly closing = new AbortController();
  private readonly labels: LabelBook;
  private readonly attachmentBudget: AttachmentBudget;
  /** The bytes of an action's attachments, from `record()` until the writer stores them, before the action. */
  private readonly attachmentBytes = new WeakMap<ActionEntry, CapturedAttachment[]>();
  private initialized: Promise<void> | undefined;
  private readonly openRef = new WeakRef(this);
  /** An HTTP capture is mounted: a change outside any scope then means a middleware mounted after the routes. */
  private httpMounted = false;
  private outsideScopeReported = false;

  constructor(options: ActionLoggerOptions) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.store = o.store;
    this.redactor = new KeyRedactor(o.redactKeys, o.redactHeaders);
    this.sanitizer = new Sanitizer(this.redactor, o.limits);
    this.builder = new DocumentBuilder(this.sanitizer, {
      maxModelLogsPerRequest: o.maxModelLogsPerRequest,
      maxDocumentBytes: o.maxDocumentBytes,
      actionLogs: o.actionLogs,
      modelLogs: o.modelLogs,
      defaultModule: o.module,
      retention: { days: o.retentionDays, models: o.retention?.models ?? {}, actionTypes: o.retention?.actionTypes ?? {} },
    });
    this.actions = new ActionParser({ actionTypes: o.actionTypes, targetTypes: o.targetTypes });
    this.attachmentBudget = new AttachmentBudget(o.attachments);
    const describe = o.describeUser ?? defaultDescribeUser(o.userModel);
    this.describeUser = (user) => {
      try {
        // Whatever describes the user, only the documented fields are kept.
        return storedUserRef(describe(user));
      } catch (error) {
        this.report(error);
        return null;
      }
    };
    const common = {
      discard: (items: QueueItem[]) => {
        this.discard(items);
      },
      onError: (error: Error) => {
        this.monitor.noteError(error);
        this.report(error);
      },
      probe: this.store.ping ? () => this.probe() : undefined,
      lost: (documents: Iterable<{ integrity?: Partial<IntegrityLink> }>) => {
        this.seal?.lostDocuments(documents);
      },
    };
    this.seal = o.integrity
      ? new TrailSeal(this.store, o.integrity, (error) => {
          this.report(error);
        })
      : undefined;
    this.writer = o.spool
      ? new SpooledWriter<QueueItem>(
          o,
          { ...o.spool, mac: o.integrity?.key.lineKey && lineMac(o.integrity.key.lineKey) },
          {
            ...common,
            unit: (item) => this.spoolUnit(item),
            steps: (units, authentic) => this.unitSteps(units, authentic),
          },
        )
      : new BatchWriter<QueueItem>(o, { ...common, build: (items, mayYield) => this.build(items, mayYield) });
    this.strict = new StrictWrites({
      builder: this.builder,
      init: () => this.init(),
      write: (batch) => this.store.write(batch),
      append: (appends) => this.store.append(appends),
      writeNow: (built, documents) => this.writer.writeNow(built, documents),
      requeue: (batch) => {
        try {
          this.writer.enqueue({ kind: 'built', batch });
        } catch (error) {
          this.report(error);
        }
      },
      standalone: (changes) => this.standaloneScope(changes),
      ...(this.seal ? { seal: this.seal } : {}),
    });
    this.labels = new LabelBook(o.labels);
    this.reader = new TrailReader(
      this.store,
      { actionLogs: o.actionLogs, modelLogs: o.modelLogs },
      () => this.init(),
      this.labels,
      this.closing.signal,
    );
    this.init().catch(() => {
      // Reported by init; the first write tries again.
    });
    openLoggers.add(this.openRef);
  }

  /** This logger's chain id, with tamper evidence on (option `integrity`): what `verify` names its entries by. */
  get integrityChain(): string | undefined {
    return this.seal?.chain.id;
  }

  /** The current scope (request, run or standalone), or undefined outside any. */
  current(): RequestContext | undefined {
    return contextStorage.getStore();
  }

  /**
   * Runs `fn` in a new scope (a job, script or queue consumer) and stores its document when `fn`
   * settles, also when it throws. Resolves or rejects as `fn` does; after `close()` rejects with
   * `ActionLogClosedError` without calling `fn`, as `record()` throws.
   */
  async run<T>(meta: RunMeta, fn: () => T | Promise<T>): Promise<T> {
    if (this.writer.isClosed) throw new ActionLogClosedError();
    if (typeof fn !== 'function') {
      throw new ActionLogValidationError([{ path: 'fn', message: 'must be the function to run in the scope' }], 'run() options');
    }
    const given: unknown = meta;
    const parsed = runMetaSchema.safeParse(given ?? {});
    if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, runMetaSchema), 'run() options');
    const m = parsed.data;
    const parent = this.current();
    const hasUser = given !== null && typeof given === 'object' && Object.hasOwn(given, 'user');
    const ctx = this.openScope({
      requestUuid: m.requestUuid ?? newUuid(),
      module: m.module ?? this.options.module,
      correlationId: m.correlationId ?? parent?.correlationId,
      metadata: m.metadata,
      source: hasUser ? m.user : parent,
      userOf: hasUser ? (user) => user : parent ? (p) => (p as RequestContext).user : undefined,
    });
    let result: T;
    try {
      // Resolved inside the scope: a thenable that is not a promise (a Mongoose query) only runs when awaited.
      result = await contextStorage.run(ctx, async () => fn());
    } catch (error) {
      const failure: unknown = error ?? new Error('run() rejected without a reason');
      // A logging error never hides the run's own.
      this.endScope(ctx, { run: { durationMs: ctx.elapsedMs(), error: errorSummary(failure) } });
      throw error;
    }
    const ending = { run: { durationMs: ctx.elapsedMs(), error: null } };
    // Failure policy 'throw': the run fails when its document cannot be stored.
    if (this.options.onStoreError === 'throw') await this.storeScope(ctx, ending);
    else {
      try {
        this.queueScope(ctx, ending);
      } catch (error) {
        this.reportError(error);
      }
    }
    return result;
  }

  /**
   * Records one model change into `context` (default: the current scope; `null`: outside any scope). Adapters
   * call this. Outside any scope the change becomes its own document, or is ignored (`outsideContext`).
   */
  recordModelChange(change: ModelChange, context: RequestContext | null | undefined = this.current()): void {
    const issues = checkModelChange(change);
    if (issues.length > 0) throw new ActionLogValidationError(issues, 'model change');
    // Stamped now: the document is built later, off the hot path. The caller's object is left alone.
    // Object.assign, not a spread followed by a property: that form takes V8's slow path (~1 µs).
    const stamped = change.timestamp ? change : Object.assign({}, change, { timestamp: new Date() });
    this.inScope(context, (ctx) => ctx.addModelChange(stamped));
  }

  /**
   * Records an explicit action, given by actionlog's own names (Auditize's log model), an ActionLog service's
   * (`action_type`...) or an `auditLog` object's (`actionType`...); invalid input throws `ActionLogValidationError`
   * naming each bad field. With `attachments`, it returns a promise instead: see `recordWithAttachments`.
   */
  record(input: ActionInput & { attachments: readonly AttachmentInput[] }): Promise<ActionEntry>;
  record(input: ActionInput): ActionEntry;
  record(input: ActionInput & { attachments?: readonly AttachmentInput[] }): ActionEntry | Promise<ActionEntry> {
    if (hasAttachments(input)) {
      return this.recordWithAttachments(input);
    }
    const parsed = this.actions.parse(input);
    if (!parsed.success) throw new ActionLogValidationError(parsed.issues, 'action');
    const context = this.current();
    const entry = actionEntry(parsed.draft, context?.user, this.sanitizer, this.options.maxDocumentBytes);
    this.inScope(context, (ctx) => ctx.addAction(entry));
    return entry;
  }

  /**
   * Records several actions, in order, or none: every entry is checked first, and one `ActionLogValidationError`
   * names each bad one by its index and path (`3.action_type`).
   */
  recordMany(inputs: readonly ActionInput[]): ActionEntry[] {
    if (!Array.isArray(inputs)) throw new ActionLogValidationError([{ path: '', message: 'must be a list of actions' }], 'actions');
    // Array.from, not map: a hole is refused as the undefined it reads as, not skipped.
    const results = Array.from(inputs, (input): ReturnType<ActionParser['parse']> => {
      if (hasAttachments(input)) {
        return {
          success: false,
          issues: [{ path: 'attachments', message: 'is not taken by recordMany(): record() such an action alone' }],
        };
      }
      return this.actions.parse(input);
    });
    const issues = results.flatMap((r, i) => (r.success ? [] : r.issues.map((issue) => ({ ...issue, path: indexed(i, issue.path) }))));
    if (issues.length > 0) throw new ActionLogValidationError(issues, 'actions');
    const context = this.current();
    const entries = results.map((r) =>
      actionEntry((r as { draft: ActionDraft }).draft, context?.user, this.sanitizer, this.options.maxDocumentBytes),
    );
    if (entries.length > 0) this.inScope(context, (ctx) => entries.reduce((late, entry) => ctx.addAction(entry) || late, false));
    return entries;
  }

  /**
   * `record()` of an action with attachments: checks the action and its attachments, reads every stream to its end
   * (cut off and destroyed at the limits of the `attachments` option), then records the action with each
   * attachment's `{ id, name, type, mime_type, size, sha256 }` and resolves with it. The bytes are stored by the
   * writer before the document that names them. Rejects with `ActionLogValidationError` naming each bad field
   * (`attachments.1.data` over a limit); a refused action's streams are destroyed and nothing is recorded.
   */
  private async recordWithAttachments(input: ActionInput & { attachments?: unknown }): Promise<ActionEntry> {
    const { attachments, ...action } = input;
    const context = this.current();
    try {
      if (this.writer.isClosed) throw new ActionLogClosedError();
      if (!this.store.putAttachments || !this.store.readAttachment) {
        const message = 'has no putAttachments() and readAttachment(): this store cannot keep attachments';
        throw new ActionLogConfigError([{ path: 'store', message }], 'record');
      }
      const parsed = this.actions.parse(action);
      const given = parseAttachments(attachments);
      const issues = [...(parsed.success ? [] : parsed.issues), ...(given.success ? [] : given.issues)];
      if (!parsed.success || !given.success) throw new ActionLogValidationError(issues, 'action');
      // When it was recorded, not when its streams were read to their end.
      parsed.draft.emitted_at ??= new Date();
      // Outside any scope the action is a document of its own: its attachments are a request of their own.
      const read = await this.attachmentBudget.read(given.given, context ?? {});
      if (!read.success) throw new ActionLogValidationError(read.issues, 'action');
      const entry = actionEntry(parsed.draft, context?.user, this.sanitizer, this.options.maxDocumentBytes);
      entry.attachments = read.attachments.map(({ data: _data, ...meta }) => meta);
      this.attachmentBytes.set(entry, read.attachments);
      this.inScope(context, (ctx) => ctx.addAction(entry));
      return entry;
    } catch (error) {
      releaseStreams(attachments);
      throw error;
    }
  }

  /**
   * The bytes of an attachment (`id` from an entry's `attachments`) as a readable stream; null when the store has
   * none by that id (never stored, purged or expired).
   */
  async attachment(id: string): Promise<Readable | null> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
      throw new ActionLogValidationError([{ path: 'id', message: 'must be the id of an attachment (a non-empty string)' }], 'attachment');
    }
    if (!this.store.readAttachment) {
      throw new ActionLogConfigError(
        [{ path: 'store', message: 'has no readAttachment(): this store keeps no attachments' }],
        'attachment',
      );
    }
    await this.init();
    return this.store.readAttachment(id);
  }

  /**
   * Marks a stored action entry (`entryId`: its `_id` as reads return it) inactive, so that reads leave it out unless
   * `include_inactive: true`, and records who did it and why as an action of its own (type `deactivate`, category
   * `actionlog`, target `action_log` / the id, note the reason), in the current scope or a document of its own.
   */
  async deactivate(entryId: unknown, options: DeactivateOptions): Promise<ActionEntry> {
    const context = this.current();
    const { id, draft } = deactivationDraft(entryId, options, Boolean(context?.user));
    if (!this.options.actionLogs) {
      throw new ActionLogConfigError(
        [{ path: 'actionLogs', message: 'is false: there are no action entries to deactivate' }],
        'deactivate',
      );
    }
    if (!this.store.deactivate) {
      throw new ActionLogConfigError([{ path: 'store', message: 'has no deactivate(): this store cannot change entries' }], 'deactivate');
    }
    await this.init();
    if (!(await this.store.deactivate(id))) {
      throw new ActionLogValidationError([{ path: 'entryId', message: `is not the _id of a stored action entry (${id})` }], 'deactivate');
    }
    const entry = actionEntry(draft, context?.user, this.sanitizer, this.options.maxDocumentBytes);
    if (context) {
      if (context.addAction(entry)) this.writer.enqueue({ kind: 'append', ctx: context });
    } else {
      // Never dropped by outsideContext: 'ignore', the record of a change to the trail itself.
      const own = this.openScope({ requestUuid: newUuid(), module: this.options.module });
      own.addAction(entry);
      this.queueScope(own);
    }
    return entry;
  }

  /**
   * Deletes expired entries (option `retentionDays`), and with `before` every entry older than it, from every
   * collection, a batch at a time; a run killed midway is finished by the next. Then the attachments no entry that is
   * left can name (see the README, "Attachments"). Says how many it deleted per kind, and attachments.
   */
  async purge(options?: PurgeOptions): Promise<PurgeResult> {
    const plan = planPurge(this.store, options, this.seal !== undefined);
    await this.init();
    return purgeEntries(this.store, plan, this.recordPruned());
  }

  /**
   * Checks the trail against its chains and signed checkpoints (option `integrity`): what was modified, deleted,
   * inserted or reordered, forged, truncated or rolled back, and what a purge pruned; see the README, "Proving the trail".
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    await this.init();
    return verifyTrail(this.store, options, this.options.integrity?.key);
  }

  /** With tamper evidence, what a purge or an archive deletes is first recorded in a signed checkpoint. */
  private recordPruned(archived = false) {
    const seal = this.seal;
    return seal && ((links: IntegrityLink[]) => seal.checkpoint({ pruned: links, archived }, true));
  }

  /**
   * Moves expired entries, and with `before` every entry older than it, to `to` (a writable stream of JSON lines,
   * or another store, initialized here with every collection): each batch copied, confirmed, then deleted here.
   * Killed midway and run again, every entry ends up once in either place (see the README). Says how many moved.
   */
  async archive(options: ArchiveOptions): Promise<PurgeCounts> {
    const plan = planArchive(this.store, options);
    await this.init();
    if (isStore(plan.to)) {
      await plan.to.init?.({
        actionLogs: true,
        modelLogs: true,
        retention: false,
        warn: (warning) => {
          this.report(warning);
        },
      });
    }
    return archiveEntries(this.store, plan, this.recordPruned(true));
  }

  /**
   * The latest action of an actor (`actor`: an `actor_id`, as the filter takes it) and action type (option
   * `latestActions`): the one with the newest `emitted_at` stored so far, whatever order the writes came in, as
   * `query` returns it; null when there is none. When that one is expired, purged or deactivated, the newest other
   * action of the pair that reads still return takes its place.
   */
  async latestAction(actor: string | number, type: string): Promise<ActionLogDocument | null> {
    const { actorId, actionType } = parseLatestArgs(actor, type);
    if (!this.options.latestActions || !this.store.latestAction) {
      const message = 'is off: pass latestActions: true to createActionLogger to keep the latest action per actor and type';
      throw new ActionLogConfigError([{ path: 'latestActions', message }], 'latestAction');
    }
    await this.init();
    const held = await this.store.latestAction(actorId, actionType);
    if (held) return held.entry;
    const [newest] = (await this.reader.query({ kind: 'actions', actor_id: actorId, action_type: actionType }, { limit: 1 })).items;
    return newest ?? null;
  }

  /** Records an activity feed entry; written on its own, without waiting for the request to end. */
  activity(input: ActivityInput, context: RequestContext | undefined = this.current()): ActivityDocument {
    const parsed = activitySchema.safeParse(input);
    if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, activitySchema), 'activity');
    const a = parsed.data;
    const user = a.user ?? context?.user;
    if (!user) throw new ActionLogValidationError([{ path: 'user', message: 'is required (the current scope has no user)' }], 'activity');
    const doc: ActivityDocument = {
      uid: newUuid(),
      user,
      ip_address: a.ip_address !== undefined ? a.ip_address : (context?.ip ?? null),
      // Redacted as request URLs are: a link or a description may carry a token as well as a request does.
      action: redactText(a.action, this.redactor),
      activity_date: a.activity_date ?? new Date(),
      link_preview: a.link_preview ? redactUrl(a.link_preview, this.redactor) : (a.link_preview ?? null),
      request_uuid: a.request_uuid !== undefined ? a.request_uuid : (context?.requestUuid ?? null),
    };
    this.writer.enqueue({ kind: 'activity', doc });
    return doc;
  }

  /** Resolves once everything recorded in ended scopes before the call is stored (or dropped, see `stats()`). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /**
   * Drains the queue, ends every tail, closes the store, then refuses new work with `ActionLogClosedError`. With `timeout` (ms), stops
   * waiting at the deadline: `left` says how many documents were not stored (dropped, counted and reported).
   */
  close(options: { timeout?: number } = {}): Promise<{ left: number }> {
    // A second call (the app's, and a shutdown hook's) waits for the same drain and says the same.
    if (this.closeCall) return this.closeCall;
    if (this.writer.isClosed) return Promise.resolve({ left: 0 });
    this.closeCall = this.closeOnce(options);
    return this.closeCall;
  }

  private async closeOnce(options: { timeout?: number }): Promise<{ left: number }> {
    openLoggers.delete(this.openRef);
    const started = performance.now();
    const left = await this.writer.close(options.timeout);
    // Documents left behind (in the spool, or in a write still under way) may be stored after this: the chain is not
    // said to end here, or verify would take them for insertions past its end.
    const sealed = left > 0 ? this.seal?.checkpoint() : this.seal?.close();
    if (sealed)
      await this.closingCheckpoint(sealed, options.timeout === undefined ? undefined : options.timeout - (performance.now() - started));
    this.closing.abort();
    await this.store.close();
    return { left };
  }

  /**
   * Waits for the closing checkpoint (stored, then anchored): for ever without a deadline, else for what is left of it
   * but at least `CLOSING_CHECKPOINT_MS`, since it confirms links already stored; a hung store or anchor is reported.
   */
  private async closingCheckpoint(sealed: Promise<void>, leftMs: number | undefined): Promise<void> {
    if (leftMs === undefined) await sealed;
    else if (!(await finishesWithin(sealed, Math.max(CLOSING_CHECKPOINT_MS, leftMs))))
      this.report(new ActionLogError('close() stopped waiting for the last integrity checkpoint to be stored and anchored'));
  }

  /**
   * A page of entries of one kind (`requests`, `actions`, `changes`, `activities`) that match `filter`, newest first
   * unless `order: 'asc'`, by keyset: `next_cursor` gives the next page, stable under concurrent writes.
   */
  query<K extends EntryKind>(filter: QueryFilter & { kind: K }, options?: PageOptions): Promise<Page<EntryOf[K]>> {
    return this.reader.query(filter, options);
  }

  /** How many entries match `filter`. */
  count(filter: QueryFilter): Promise<number> {
    return this.reader.count(filter);
  }

  /** Distinct values of `field` among the entries that match, with their counts, most frequent first. */
  facets(field: FacetField, filter: QueryFilter, options?: Omit<PageOptions, 'order'>): Promise<Page<FacetCount>> {
    return this.reader.facets(field, filter, options);
  }

  /** Every change of one record (`model`: its collection or table), oldest first, with who, when and what changed. */
  history(model: string, id: string | number, options?: PageOptions): Promise<Page<HistoryItem>> {
    return this.reader.history(model, id, options);
  }

  /** The record as it was at `at` (null before its creation or after its deletion), and whether the trail proves it. */
  stateAt(model: string, id: string | number, at: Date | string): Promise<RecordState> {
    return this.reader.stateAt(model, id, at);
  }

  /**
   * Every entry that matches, as a readable stream of JSON lines or CSV rows (also an async iterable), read a page at
   * a time with backpressure; `stream.cursor` resumes it. See `ExportOptions` for the CSV columns.
   */
  export(filter: QueryFilter, options?: ExportOptions): ExportStream {
    return this.reader.export(filter, options);
  }

  /**
   * Follows the entries that match as they are stored, from now on (or after the cursor `after`), in stored order,
   * each with the cursor that resumes after it: `for await (const { entry, cursor } of logger.tail({ kind: 'actions' }))`.
   */
  tail<K extends EntryKind>(filter: QueryFilter & { kind: K }, options?: TailOptions): AsyncIterable<TailItem<EntryOf[K]>> {
    return this.reader.tail(filter, options);
  }

  /**
   * The display name of an action type, action category, target type or field in `lang` (the `labels` option),
   * humanized when it has none: `logger.label('fr', 'action_type', 'CREATE')`. An unconfigured `lang` throws.
   */
  label(lang: string, kind: LabelKind, key: string): string {
    return this.labels.label(lang, kind, key);
  }

  /** Counters of documents: recorded, stored, retried, dropped, quarantined, queued; with a spool, `spool` too. */
  stats(): WriterStats {
    return this.writer.stats();
  }

  /** Documents the store refused while storing the rest of their batch, newest last (at most `maxQuarantine`). */
  quarantined(): QuarantinedDocument[] {
    return this.writer.quarantined();
  }

  /** A user as stored (`{ lookup_from, _id, label, email? }`), made by the `describeUser` option; null for none. */
  userRef(user: unknown): UserRef | null {
    return user === null || user === undefined ? null : this.describeUser(user);
  }

  /**
   * For ORM adapters: paths omitted from a model's logs (`omit`) are kept out of request bodies too, by their last
   * name (`card.pin` → any `pin` key), so a field left out of the trail does not reach it through the request.
   */
  omitFromBodies(paths: readonly string[]): void {
    this.sanitizer.omitFromBodies(paths.map((path) => path.slice(path.lastIndexOf('.') + 1)).filter((name) => name !== ''));
  }

  /** Resolves once the store is initialized (tables, indexes); rejects if that failed. */
  ready(): Promise<void> {
    return this.init();
  }

  /**
   * Reports an error raised while capturing (ORM hooks, middleware) to `onError`, and rethrows it in strict mode.
   * Adapters call this instead of letting logging break the user's request.
   */
  reportError(error: unknown): void {
    this.report(error);
    if (this.options.strict) throw error;
  }

  /**
   * For adapters: opens a scope without entering it (enter it with `contextStorage.run`, as the HTTP capture of
   * `actionlog/adapter-kit` does). End it with `endScope`.
   */
  openScope<Source>(init: ScopeInit<Source>): RequestContext {
    return new RequestContext(init as ScopeInit, this.describeUser, this.reportCapture);
  }

  /** The failure policy (option `onStoreError`): under `'throw'`, adapters store before answering or committing. */
  get failurePolicy(): 'retry' | 'spool' | 'throw' {
    return this.options.onStoreError;
  }

  /**
   * For adapters, under the failure policy `'spool'`: ends the scope and appends its document to the spool (a local
   * write, no store call); the response goes out once the returned promise resolves (undefined: at once). The
   * documents of a turn's responses share one write. Never throws or rejects: errors go to `onError`.
   */
  spoolScope(ctx: RequestContext, ending?: ScopeEnding): Promise<void> | undefined {
    try {
      if (ctx.ended) return undefined;
      if (ending?.request) this.describeActivity(ctx);
      if (!ctx.end(ending)) return undefined;
      if (this.writer instanceof SpooledWriter) return this.writer.spoolSoon({ kind: 'request', ctx });
      this.writer.enqueue({ kind: 'request', ctx });
    } catch (error) {
      this.report(error);
    }
    return undefined;
  }

  /**
   * For adapters, under the failure policy `'throw'`: ends the scope and stores its document now. Rejects with
   * `ActionLogStoreError` when it cannot; the document is then queued for retry, saying `unstored` as its response.
   */
  async storeScope(ctx: RequestContext, ending?: ScopeEnding, unstored?: ResponseDetails): Promise<void> {
    if (ctx.ended) return;
    if (ending?.request) this.describeActivity(ctx);
    if (!ctx.end(ending)) return;
    await this.strict.scope(ctx, unstored);
  }

  /**
   * For ORM adapters, under the failure policy `'throw'`: stores the changes of a transaction before it commits,
   * appended to their scope's document. Rejects with `ActionLogStoreError` when it cannot: fail the commit then.
   */
  async storeChanges(held: readonly HeldEvent[]): Promise<void> {
    const ready = held.map((event): ReadyEvent => {
      const { context } = event;
      if ('action' in event) {
        const parsed = this.actions.parse(event.action);
        if (!parsed.success) throw new ActionLogValidationError(parsed.issues, 'action');
        return { action: actionEntry(parsed.draft, context?.user, this.sanitizer, this.options.maxDocumentBytes), context };
      }
      const issues = checkModelChange(event.change);
      if (issues.length > 0) throw new ActionLogValidationError(issues, 'model change');
      return { change: event.change.timestamp ? event.change : Object.assign({}, event.change, { timestamp: new Date() }), context };
    });
    await this.strict.changes(ready);
  }

  /**
   * For readiness probes: whether the store answers a ping within `timeout` (ms, default 1000), the queue and
   * spool depths, the last store error and when, and whether the logger is closed. Rejects only on bad options.
   */
  health(options?: HealthOptions): Promise<HealthReport> {
    const { queued, spool } = this.writer.stats();
    return this.monitor.check(options, {
      closed: this.writer.isClosed,
      ping: this.store.ping?.bind(this.store),
      queueDepth: queued,
      maxQueueSize: this.options.maxQueueSize,
      spool: spool && { depth: spool.pending, bytes: spool.bytes, oldestAgeMs: spool.oldestAgeMs },
    });
  }

  /**
   * Opt-in: on SIGTERM and SIGINT (option `signals`), stores what is queued within `timeout` ms before the process
   * exits, never in place of the application's own handlers; see the README, "Shutdown". Returns the uninstaller.
   */
  installShutdownHandlers(options?: ShutdownOptions): () => void {
    return installShutdownHandlers(this, options);
  }

  /**
   * For adapters: ends a scope once and hands its document to the writer. `ending` is what the document shows of
   * how it ended (the HTTP exchange). Never throws: errors go to `onError`.
   */
  endScope(ctx: RequestContext, ending?: ScopeEnding): void {
    try {
      this.queueScope(ctx, ending);
    } catch (error) {
      this.report(error);
    }
  }

  private queueScope(ctx: RequestContext, ending?: ScopeEnding): void {
    if (ctx.ended) return;
    // Described while the scope still holds the framework's request, which `end` lets go.
    if (ending?.request) this.describeActivity(ctx);
    if (ctx.end(ending)) this.writer.enqueue({ kind: 'request', ctx });
  }

  /** Writes the activity the `activity.describe` option gives for a finished HTTP request. */
  private describeActivity(ctx: RequestContext): void {
    const describe = this.options.activity?.describe;
    if (!describe) return;
    try {
      const input = describe(ctx.source);
      if (input) this.activity(input, ctx);
    } catch (error) {
      this.report(error);
    }
  }

  /**
   * For HTTP adapters: a capture is mounted on this logger. A change or action recorded outside any scope is then
   * reported once (the middleware is probably mounted after the routes), unless `outsideContext` was set.
   */
  httpCaptureMounted(): void {
    this.httpMounted = true;
  }

  /** Called when the process exits: documents still queued are lost, said once (with a spool, spooled first). */
  warnIfUnstored(): void {
    if (this.writer instanceof SpooledWriter) {
      const lost = this.writer.spoolBeforeExit();
      if (lost > 0) this.report(new ActionLogError(`the process exits with ${lost} documents the full spool could not keep`));
      return;
    }
    const { queued } = this.writer.stats();
    if (queued === 0 || this.writer.isClosed) return;
    this.report(new ActionLogError(`the process exits with ${queued} documents not stored: await logger.close() before process.exit()`));
  }

  /** An ended scope of its own for changes made outside any (option `outsideContext`), or undefined when ignored. */
  private standaloneScope(events: ScopeEvents): RequestContext | undefined {
    if (this.options.outsideContext === 'ignore') return undefined;
    const ctx = this.openScope({ requestUuid: newUuid(), module: this.options.module });
    for (const change of events.modelChanges) ctx.addModelChange(change);
    for (const action of events.actions) ctx.addAction(action);
    ctx.end();
    return ctx;
  }

  /** Adds an event to `context` (queueing an append when it is late), or to a document of its own. */
  private inScope(context: RequestContext | null | undefined, add: (ctx: RequestContext) => boolean): void {
    if (context) {
      if (add(context)) this.writer.enqueue({ kind: 'append', ctx: context });
      return;
    }
    if (this.httpMounted && !this.outsideScopeReported && !this.options.outsideContextGiven) {
      this.outsideScopeReported = true;
      this.report(
        new ActionLogError(
          'a change was recorded outside any request, though an HTTP middleware is mounted: mount it before the routes ' +
            '(and wrap jobs in logger.run()); it is stored as a document of its own. Set outsideContext to silence this.',
        ),
      );
    }
    if (this.options.outsideContext === 'ignore') return;
    const ctx = this.openScope({ requestUuid: newUuid(), module: this.options.module });
    add(ctx);
    this.queueScope(ctx);
  }

  /** Whether the store answers now (its ping), for the writer. */
  private async probe(): Promise<boolean> {
    try {
      await this.store.ping?.();
      return true;
    } catch {
      return false;
    }
  }

  private init(): Promise<void> {
    this.initialized ??= Promise.resolve()
      .then(() =>
        this.store.init?.({
          actionLogs: this.options.actionLogs,
          modelLogs: this.options.modelLogs,
          latestActions: this.options.latestActions,
          retention: this.options.retentionDays !== undefined || this.options.retention !== undefined,
          warn: (warning) => {
            this.report(warning);
          },
        }),
      )
      .catch((error: unknown) => {
        this.initialized = undefined;
        const failure = new ActionLogError('Store initialization failed', { cause: error });
        this.monitor.noteError(failure);
        this.report(failure);
        throw error;
      });
    return this.initialized;
  }

  /** A batch built an item at a time, in slices between which requests run while the writer keeps up (`mapYielding`). */
  private async build(items: QueueItem[], mayYield: () => boolean): Promise<BuiltBatch> {
    const sealed: number[] = [];
    const built = await mapYielding(
      items,
      (item) => {
        const b = this.builtOrReported(item);
        if (b?.sealed) sealed.push(...b.sealed);
        return b;
      },
      mayYield,
    );
    // Each item's own document (its request document, append or activity), for the writer's counts.
    const itemOf = new Map<unknown, number>();
    const units: DocumentUnit[] = [];
    for (const [index, b] of built.entries()) {
      if (!b) continue;
      itemOf.set(b.document, index);
      units.push(b.unit);
    }
    const steps = this.storeSteps(mergeUnits(units), sealed);
    return { steps, itemOf: (document) => itemOf.get(document), leftOut: items.length - units.length };
  }

  /**
   * One item built and sealed (the links hash the documents as they are stored); undefined, reported, when either
   * throws: one scope never costs the others of its batch.
   */
  private builtOrReported(item: QueueItem): { unit: DocumentUnit; document: unknown; sealed?: number[] } | undefined {
    try {
      const built = this.unitOf(item);
      return this.seal ? { ...built, sealed: this.seal.seal(built.unit.batch, built.unit.appends) } : built;
    } catch (error) {
      const of = item.kind === 'request' || item.kind === 'append' ? ` of request ${item.ctx.requestUuid}` : '';
      this.report(new ActionLogStoreError(`Could not build the document${of}; it is dropped`, 1, { cause: error }));
      return undefined;
    }
  }

  /** For the spool: one item built and sealed, as its line will keep it. */
  private spoolUnit(item: QueueItem): DocumentUnit {
    const { unit } = this.unitOf(item);
    if (this.seal) {
      this.seal.seal(unit.batch, unit.appends);
      this.sealedUnits.add(unit);
    }
    return unit;
  }

  /**
   * For the spool: the store calls of units it hands back, sealed already: built here (`sealedUnits`), or read back
   * from a file. Read back, only a unit whose line's MAC holds (`authentic`: written by a logger with the same key)
   * counts: of its own chain, it is confirmed by sequence (the checkpoint signs the hash this writer sealed, not the
   * file's); of another writer's spool it adopted, this writer's next checkpoint vouches for it.
   */
  private unitSteps(units: DocumentUnit[], authentic: ReadonlySet<DocumentUnit>): WriteStep[] {
    const seal = this.seal;
    const sealed: number[] = [];
    const foreign: ChainHead[] = [];
    for (const unit of units) {
      if (!seal || !(this.sealedUnits.has(unit) || authentic.has(unit))) continue;
      // Only links this writer sealed and has not confirmed are confirmed: any other sequence is ignored.
      sealed.push(...seal.seqsOf(documentsOf(unit.batch, unit.appends)));
      if (!this.sealedUnits.has(unit))
        for (const head of newestLinks(unit.batch, unit.appends)) if (head.chain !== seal.chain.id) foreign.push(head);
    }
    const steps = this.storeSteps(mergeUnits(units), seal ? sealed : undefined);
    // After the batches before it, as a link of its own: a head is vouched for once every line before it is stored.
    if (seal && foreign.length > 0)
      steps.push(
        orderedStep(async () => {
          seal.storedForeign(foreign);
        }),
      );
    return steps;
  }

  /** One queued item's documents and the attachment bytes they name; `document` is the item's own, for the counts. */
  private unitOf(item: QueueItem): { unit: DocumentUnit; document: unknown } {
    const batch = emptyBatch();
    const appends: RequestAppend[] = [];
    let actions: ActionEntry[] = [];
    let document: unknown;
    if (item.kind === 'request') {
      const events = item.ctx.takeEvents();
      actions = events.actions;
      this.builder.request(item.ctx, events, batch);
      document = batch.requests.at(-1);
    } else if (item.kind === 'append') {
      const events = item.ctx.takeLateEvents();
      actions = events.actions;
      const append = this.builder.append(item.ctx, events, batch);
      appends.push(append);
      document = append;
    } else if (item.kind === 'built') {
      mergeBatch(batch, item.batch);
      document = item.batch.requests[0];
    } else {
      batch.activities.push(item.doc);
      document = item.doc;
    }
    this.builder.stampExpiry(batch);
    return { unit: { batch, appends, attachments: this.takeAttachments(actions) }, document };
  }

  /** The bytes of these actions' attachments, as stored; the logger lets go of them (the unit holds them now). */
  private takeAttachments(actions: readonly ActionEntry[]): StoredAttachment[] {
    const withBytes: Array<{ entry: ActionEntry; bytes: CapturedAttachment[] }> = [];
    for (const entry of actions) {
      const bytes = this.attachmentBytes.get(entry);
      if (!bytes) continue;
      withBytes.push({ entry, bytes });
      this.attachmentBytes.delete(entry);
    }
    return withBytes.length === 0 ? [] : this.builder.attachments(withBytes);
  }

  /**
   * The store calls of a unit: the attachments first (an entry never names bytes that are not stored; retried like
   * the store's setup, and if they keep failing the batch is dropped with them), then its documents and appends,
   * then the links `sealed` confirmed.
   */
  private storeSteps(unit: DocumentUnit, sealed: readonly number[] | undefined): WriteStep[] {
    const steps: WriteStep[] = [setupStep(() => this.init())];
    if (unit.attachments.length > 0) {
      let attachments = unit.attachments;
      steps.push(
        setupStep(async () => {
          if (attachments.length === 0) return;
          await this.store.putAttachments?.(attachments);
          // Stored: the bytes are let go, not held while the rest of the batch is written (or retried).
          attachments = [];
          unit.attachments = [];
        }),
      );
    }
    const step = batchStep(unit.batch, (part) => this.store.write(part));
    if (step.size > 0) steps.push(step);
    if (unit.appends.length > 0) steps.push(appendStep(unit.appends, (part) => this.store.append(part)));
    const seal = this.seal;
    if (seal && sealed && sealed.length > 0) {
      // In the order of the batches, so that a checkpoint's links mostly follow on (its Merkle root covers a run).
      steps.push(
        orderedStep(async () => {
          seal.stored(sealed);
        }),
      );
    }
    return steps;
  }

  /** Items dropped from a full queue: their events are let go (events that come later still get written, as an append). */
  private discard(items: QueueItem[]): void {
    for (const item of items) {
      if (item.kind === 'request') item.ctx.takeEvents();
      else if (item.kind === 'append') item.ctx.takeLateEvents();
    }
  }

  /**
   * For adapters: hands an error to `onError` and never throws, not even in strict mode (for response listeners
   * and timers, where a throw could not reach the application). Elsewhere use `reportError`.
   */
  report(error: unknown): void {
    try {
      const err = error instanceof Error ? error : new ActionLogError(thrownText(error));
      if (this.options.onError) this.options.onError(err);
      else defaultOnError(err);
    } catch {
      // A failing onError must not break the caller.
    }
  }
}

/** How long `close({ timeout })` waits for its closing checkpoint past the deadline, when the writer used all of it. */
const CLOSING_CHECKPOINT_MS = 1000;

/** Whether `record()` input has attachments (any value: a bad one is refused by their checks). */
function hasAttachments(input: unknown): input is ActionInput & { attachments: unknown } {
  return input !== null && typeof input === 'object' && !Array.isArray(input) && Object.hasOwn(input, 'attachments');
}

/** The path of an issue of the `index`th entry of a list. */
function indexed(index: number, path: string): string {
  return path ? `${index}.${path}` : String(index);
}

function defaultOnError(error: Error): void {
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  console.warn(`[actionlog] ${error.message}${cause}`);
}
