import type { CapturedRequest, RequestContext, ScopeEvents } from '../capture/context.js';
import type { ModelChange } from '../capture/model-change.js';
import type {
  ActionEntry,
  ActionLogDocument,
  ModelLog,
  ModelLogDocument,
  RequestAppend,
  RequestDetails,
  RequestDocument,
  StoreBatch,
  StoredAttachment,
} from '../shared/document.js';
import { diffObjects, isOmittedPath } from './diff.js';
import type { Sanitizer } from './sanitize/sanitizer.js';
import { MODEL_LOG_OVERHEAD, REQUEST_OVERHEAD, SizeBudget } from './size-budget.js';
import { type ActionBytes, appendExpiry, attachmentsOf, type RetentionRules, stampExpiry } from './retention.js';
import { redactText } from './text.js';
import { redactUrl } from './url.js';
import { newUuid } from '../shared/uuid.js';
import { isPlainObject } from '../shared/plain-objects.js';

export interface BuildOptions {
  maxModelLogsPerRequest: number;
  maxDocumentBytes: number;
  actionLogs: boolean;
  modelLogs: boolean;
  defaultModule: string;
  retention: RetentionRules;
}

/**
 * Turns ended scopes into stored documents, off the hot path: sanitizes, diffs, and keeps every request
 * document under its size budget by spilling model logs to the `model_logs` collection. It reads scopes and
 * events and writes only the documents it makes, and the count each scope keeps of what its document holds
 * (`documentFill`).
 */
export class DocumentBuilder {
  /** The limits every document is held to; what each one holds so far is its scope's `documentFill`. */
  private readonly budget: SizeBudget;

  constructor(
    private readonly sanitizer: Sanitizer,
    private readonly options: BuildOptions,
  ) {
    this.budget = new SizeBudget(options.maxDocumentBytes, options.maxModelLogsPerRequest);
  }

  /** Adds the request document of an ended scope (and its mirror entries) to `batch`. */
  request(ctx: RequestContext, events: ScopeEvents, batch: StoreBatch): void {
    const module = this.sanitizer.cleanString(ctx.module ?? this.options.defaultModule);
    const { request: captured, response, run } = ctx.endedWith;
    const request = captured ? this.requestDetails(captured, ctx) : null;
    const logs = this.modelLogs(ctx, events.modelChanges, module, batch);
    const actions = this.actions(ctx, events.actions, module, batch);
    const doc: RequestDocument = {
      uid: ctx.uid,
      request_uuid: ctx.requestUuid,
      module,
      timestamp: ctx.timestamp,
      details: {
        request,
        response: response ?? null,
        model_logs: logs.kept,
        actions: actions.kept,
      },
    };
    if (run) {
      doc.details.run = {
        user_details: ctx.user,
        metadata: ctx.metadata ? (this.sanitizer.clean(ctx.metadata) as Record<string, unknown>) : null,
        duration_ms: run.durationMs,
        // A driver's message may carry its connection string: credentials masked as in an activity's text.
        error: run.error && {
          name: this.sanitizer.cleanString(run.error.name),
          message: redactText(this.sanitizer.cleanString(run.error.message), this.sanitizer.redactor),
        },
      };
    }
    if (logs.spilled > 0) doc.details.model_logs_spilled = logs.spilled;
    if (actions.spilled > 0) doc.details.actions_spilled = actions.spilled;
    if (ctx.correlationId) doc.correlation_id = ctx.correlationId;
    batch.requests.push(doc);
  }

  /** Builds the append of events recorded after the scope's document was taken. */
  append(ctx: RequestContext, events: ScopeEvents, batch: StoreBatch): RequestAppend {
    const module = this.sanitizer.cleanString(ctx.module ?? this.options.defaultModule);
    const logs = this.modelLogs(ctx, events.modelChanges, module, batch);
    const actions = this.actions(ctx, events.actions, module, batch);
    const append: RequestAppend = {
      append_id: newUuid(),
      uid: ctx.uid,
      request_uuid: ctx.requestUuid,
      module,
      model_logs: logs.kept,
      actions: actions.kept,
      model_logs_spilled: logs.spilled,
      actions_spilled: actions.spilled,
    };
    const expiresAt = appendExpiry(ctx.timestamp, append, this.options.retention);
    if (expiresAt) append.expires_at = expiresAt;
    return append;
  }

  /** Sets `expires_at` on the documents of the batch as the retention options say (see `stampExpiry`). */
  stampExpiry(batch: StoreBatch): void {
    stampExpiry(batch, this.options.retention);
  }

  /** The attachments of these actions as stored: kept as long as any entry naming them (see `attachmentsOf`). */
  attachments(actions: readonly ActionBytes[]): StoredAttachment[] {
    return attachmentsOf(actions, this.options.retention);
  }

  /**
   * A model log as its own entry, with what it needs of its request to be found alone. Written out field by field:
   * a literal with a spread followed by properties takes V8's slow path and leaves the object in dictionary mode,
   * slower for everything that reads it next (sealing, the driver's serializer).
   */
  private modelLogMirror(ctx: RequestContext, log: ModelLog, module: string): ModelLogDocument {
    const mirror: ModelLogDocument = {
      uid: newUuid(),
      model_id: log.model_id,
      model_class_name: log.model_class_name,
      model_namespace: log.model_namespace,
      model: log.model,
      action: log.action,
      timestamp: log.timestamp,
      model_details: log.model_details,
      request_uuid: ctx.requestUuid,
      module,
      user: ctx.user,
    };
    if (log.truncated) mirror.truncated = true;
    if (ctx.correlationId) mirror.correlation_id = ctx.correlationId;
    return mirror;
  }

  /** An action as its own entry (its fields are the recorder's to choose: copied as they are). */
  private actionMirror(ctx: RequestContext, action: ActionEntry, module: string): ActionLogDocument {
    const mirror: ActionLogDocument = Object.assign({ uid: newUuid() }, action, { request_uuid: ctx.requestUuid, module });
    if (ctx.correlationId) mirror.correlation_id = ctx.correlationId;
    return mirror;
  }

  private requestDetails(req: CapturedRequest, ctx: RequestContext): RequestDetails {
    const declared = Number(req.headers['content-length']);
    const contentType = req.headers['content-type'];
    const body = this.sanitizer.cleanBody(
      req.body,
      typeof contentType === 'string' ? contentType : '',
      Number.isFinite(declared) ? declared : undefined,
    );
    const headers = this.sanitizer.cleanHeaders(req.headers);
    const s = (value: string | null) => (value === null ? null : this.sanitizer.cleanString(value));
    const url = this.sanitizer.cleanString(redactUrl(req.url, this.sanitizer.redactor));
    this.budget.add(ctx.documentFill, body.bytes + headers.bytes + url.length + (req.user_agent?.length ?? 0) + REQUEST_OVERHEAD);
    return {
      method: this.sanitizer.cleanString(req.method),
      url,
      route: s(req.route),
      ip: s(req.ip),
      user_agent: s(req.user_agent),
      body: body.value,
      headers: headers.value,
      user_details: ctx.user,
    };
  }

  private modelLogs(ctx: RequestContext, changes: ModelChange[], module: string, batch: StoreBatch) {
    // Sized up front, as the sanitizer's lists are (see `walkList`): the document keeps this array.
    const kept = new Array<ModelLog>(changes.length);
    let count = 0;
    let spilled = 0;
    for (const change of changes) {
      const built = this.modelLog(change);
      if (!built) continue;
      const fits = this.budget.takeModelLog(ctx.documentFill, built.bytes);
      if (fits) kept[count++] = built.log;
      else spilled++;
      if (!fits || this.options.modelLogs) batch.modelLogs.push(this.modelLogMirror(ctx, built.log, module));
    }
    kept.length = count;
    return { kept, spilled };
  }

  /**
   * The paths that differ between the states as given (a secret's change is named though its value is redacted), or
   * between the states as stored when those given cannot be read (a getter that throws).
   */
  private changedFields(change: ModelChange, storedOld: unknown, storedNew: unknown): string[] {
    const depth = this.sanitizer.limits.maxDepth;
    try {
      return diffObjects(change.old_object, change.new_object, depth);
    } catch {
      const record = (v: unknown) => (isPlainObject(v) ? v : null);
      return diffObjects(record(storedOld), record(storedNew), depth);
    }
  }

  /** The stored model log, or null for an update that changed nothing but omitted paths (nothing to show). */
  private modelLog(change: ModelChange): { log: ModelLog; bytes: number } | null {
    const omit = change.omit?.length ? omitSet(change.omit) : undefined;
    const oldObject = change.old_object ? this.sanitizer.cleanSized(change.old_object, omit) : { value: null, bytes: 0 };
    const newObject = change.new_object ? this.sanitizer.cleanSized(change.new_object, omit) : { value: null, bytes: 0 };
    let changed = change.changed_fields ?? this.changedFields(change, oldObject.value, newObject.value);
    if (omit && changed.length > 0) {
      changed = changed.filter((path) => !isOmittedPath(path, omit));
      if (changed.length === 0 && change.action === 'Updated') return null;
    }
    // Paths and names come from the records themselves: stored as any other string.
    changed = changed.map((path) => this.sanitizer.cleanString(path));
    const s = (value: string) => this.sanitizer.cleanString(value);
    const log: ModelLog = {
      model_id: change.model_id === null ? null : s(change.model_id),
      model_class_name: s(change.model_class_name),
      model_namespace: s(change.model_namespace),
      model: s(change.model),
      action: change.action,
      timestamp: change.timestamp ?? new Date(),
      model_details: {
        old_object: oldObject.value as Record<string, unknown> | null,
        new_object: newObject.value as Record<string, unknown> | null,
        changed_fields: changed,
      },
    };
    let bytes = oldObject.bytes + newObject.bytes + MODEL_LOG_OVERHEAD + change.model.length + change.model_class_name.length;
    bytes += change.model_namespace.length + (change.model_id?.length ?? 0);
    for (const field of changed) bytes += field.length + 3;
    if (change.query) {
      const query = this.sanitizer.cleanSized(change.query);
      log.model_details.query = query.value as NonNullable<ModelLog['model_details']['query']>;
      bytes += query.bytes;
    }
    if (change.truncated) log.truncated = true;
    // Said in the log, so that a reader knows the states are not whole (see logger.stateAt).
    if (omit) log.model_details.omitted = [...omit].map(s);
    return { log, bytes };
  }

  /** Actions past the size budget live only in `action_logs` (written for them even when the mirror is off). */
  private actions(ctx: RequestContext, actions: ActionEntry[], module: string, batch: StoreBatch) {
    const savedAt = new Date();
    const kept = new Array<ActionEntry>(actions.length);
    let count = 0;
    let spilled = 0;
    for (const recorded of actions) {
      const action = Object.assign({}, recorded, { saved_at: savedAt });
      const fits = this.budget.takeAction(ctx.documentFill, estimateBytes(action));
      if (fits) kept[count++] = action;
      else spilled++;
      if (!fits || this.options.actionLogs) batch.actionLogs.push(this.actionMirror(ctx, action, module));
    }
    kept.length = count;
    return { kept, spilled };
  }
}

const omitSets = new WeakMap<readonly string[], ReadonlySet<string>>();

/** Adapters hand the same omit list with every change of a model: its set is made once. */
function omitSet(omit: readonly string[]): ReadonlySet<string> {
  let set = omitSets.get(omit);
  if (!set) {
    set = new Set(omit);
    omitSets.set(omit, set);
  }
  return set;
}

/** Stored size of an already sanitized value, for the document budget. */
function estimateBytes(value: unknown): number {
  try {
    // undefined for a value JSON leaves out, whatever its type says.
    return (JSON.stringify(value) as string | undefined)?.length ?? 0;
  } catch {
    return 0;
  }
}
