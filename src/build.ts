import { randomUUID } from 'node:crypto';
import type { CapturedRequest, ModelChange, RequestContext } from './context.js';
import { diffObjects, isOmittedPath } from './diff.js';
import type { ActionEntry, ModelLog, RequestDetails, RequestDocument } from './document.js';
import { redactUrl } from './http/url.js';
import type { Sanitizer } from './sanitize/sanitizer.js';
import type { RequestAppend, StoreBatch } from './stores/store.js';

/** Bytes of the fixed parts of a request document and of a model log, as JSON (field names, dates...). */
const DOCUMENT_OVERHEAD = 400;
const MODEL_LOG_OVERHEAD = 260;
const REQUEST_OVERHEAD = 400;

export interface BuildOptions {
  maxModelLogsPerRequest: number;
  maxDocumentBytes: number;
  actionLogs: boolean;
  modelLogs: boolean;
  defaultModule: string;
  retentionDays: number | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Turns ended scopes into stored documents, off the hot path: sanitizes, diffs, and keeps every
 * request document under its size budget by spilling model logs to the `model_logs` collection.
 */
export class DocumentBuilder {
  constructor(
    private readonly sanitizer: Sanitizer,
    private readonly options: BuildOptions,
  ) {}

  /** Adds the request document of an ended scope (and its mirror entries) to `batch`. */
  request(ctx: RequestContext, batch: StoreBatch): void {
    const module = ctx.module ?? this.options.defaultModule;
    ctx.storedBytes += DOCUMENT_OVERHEAD;
    const request = ctx.request ? this.requestDetails(ctx.request, ctx) : null;
    const { kept, spilled } = this.modelLogs(ctx, ctx.modelChanges ?? [], module, batch);
    const actions = this.actions(ctx, ctx.actions ?? [], module, batch);
    const doc: RequestDocument = {
      request_uuid: ctx.requestUuid,
      module,
      timestamp: ctx.timestamp,
      details: {
        request,
        response: ctx.response,
        model_logs: kept,
        actions: actions.kept,
      },
    };
    if (ctx.run) {
      doc.details.run = {
        user_details: ctx.user,
        metadata: ctx.metadata ? (this.sanitizer.clean(ctx.metadata) as Record<string, unknown>) : null,
        duration_ms: ctx.run.durationMs,
        error: ctx.run.error,
      };
    }
    if (spilled > 0) doc.details.model_logs_spilled = spilled;
    if (actions.spilled > 0) doc.details.actions_spilled = actions.spilled;
    if (ctx.correlationId) doc.correlation_id = ctx.correlationId;
    // Free what the document now holds; late events start from empty lists.
    ctx.modelChanges = undefined;
    ctx.actions = undefined;
    ctx.state = 'written';
    batch.requests.push(doc);
  }

  /** Sets `expires_at` on every document of the batch when retention is configured. */
  stampExpiry(batch: StoreBatch): void {
    const days = this.options.retentionDays;
    if (days === undefined) return;
    const expiry = (from: Date) => new Date(from.getTime() + days * DAY_MS);
    for (const doc of batch.requests) doc.expires_at = expiry(doc.timestamp);
    for (const doc of batch.actionLogs) doc.expires_at = expiry(doc.emitted_at);
    for (const doc of batch.modelLogs) doc.expires_at = expiry(doc.timestamp);
    for (const doc of batch.activities) doc.expires_at = expiry(doc.activity_date);
  }

  /** Builds the append of events recorded after the scope's document was taken. */
  append(ctx: RequestContext, batch: StoreBatch): RequestAppend {
    const module = ctx.module ?? this.options.defaultModule;
    const changes = ctx.lateModelChanges ?? [];
    const actions = ctx.lateActions ?? [];
    ctx.lateModelChanges = undefined;
    ctx.lateActions = undefined;
    ctx.appendQueued = false;
    const logs = this.modelLogs(ctx, changes, module, batch);
    const kept = this.actions(ctx, actions, module, batch);
    return {
      append_id: randomUUID(),
      request_uuid: ctx.requestUuid,
      module,
      model_logs: logs.kept,
      actions: kept.kept,
      model_logs_spilled: logs.spilled,
      actions_spilled: kept.spilled,
    };
  }

  private requestDetails(req: CapturedRequest, ctx: RequestContext): RequestDetails {
    const body = this.sanitizer.cleanBody(req.body);
    const headers = this.sanitizer.cleanHeaders(req.headers);
    const url = redactUrl(req.url, this.sanitizer.redactor);
    ctx.storedBytes += body.bytes + headers.bytes + url.length + (req.user_agent?.length ?? 0) + REQUEST_OVERHEAD;
    return {
      method: req.method,
      url,
      route: req.route,
      ip: req.ip,
      user_agent: req.user_agent,
      body: body.value,
      headers: headers.value,
      user_details: ctx.user,
    };
  }

  private modelLogs(ctx: RequestContext, changes: ModelChange[], module: string, batch: StoreBatch) {
    const kept: ModelLog[] = [];
    let spilled = 0;
    const { maxModelLogsPerRequest, maxDocumentBytes } = this.options;
    for (const change of changes) {
      const built = this.modelLog(change);
      if (!built) continue;
      const { log, bytes } = built;
      const fits = ctx.storedModelLogs < maxModelLogsPerRequest && ctx.storedBytes + bytes <= maxDocumentBytes;
      if (fits) {
        kept.push(log);
        ctx.storedModelLogs++;
        ctx.storedBytes += bytes;
      } else {
        spilled++;
      }
      if (!fits || this.options.modelLogs) batch.modelLogs.push(Object.assign({}, log, { request_uuid: ctx.requestUuid, module }));
    }
    return { kept, spilled };
  }

  /** The stored model log, or null for an update that changed nothing but omitted paths (nothing to show). */
  private modelLog(change: ModelChange): { log: ModelLog; bytes: number } | null {
    const omit = change.omit?.length ? omitSet(change.omit) : undefined;
    const oldObject = change.old_object ? this.sanitizer.cleanSized(change.old_object, omit) : { value: null, bytes: 0 };
    const newObject = change.new_object ? this.sanitizer.cleanSized(change.new_object, omit) : { value: null, bytes: 0 };
    let changed = change.changed_fields ?? diffObjects(change.old_object, change.new_object);
    if (omit && changed.length > 0) {
      changed = changed.filter((path) => !isOmittedPath(path, omit));
      if (changed.length === 0 && change.action === 'Updated') return null;
    }
    const log: ModelLog = {
      model_id: change.model_id,
      model_class_name: change.model_class_name,
      model_namespace: change.model_namespace,
      model: change.model,
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
    return { log, bytes };
  }

  /** Actions past the size budget live only in `action_logs` (written for them even when the mirror is off). */
  private actions(ctx: RequestContext, actions: ActionEntry[], module: string, batch: StoreBatch) {
    const now = new Date();
    const kept: ActionEntry[] = [];
    let spilled = 0;
    for (const action of actions) {
      action.saved_at = now;
      const bytes = estimateBytes(action);
      const fits = ctx.storedBytes + bytes <= this.options.maxDocumentBytes;
      if (fits) {
        kept.push(action);
        ctx.storedBytes += bytes;
      } else {
        spilled++;
      }
      if (!fits || this.options.actionLogs) batch.actionLogs.push(Object.assign({}, action, { request_uuid: ctx.requestUuid, module }));
    }
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
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 0;
  }
}
