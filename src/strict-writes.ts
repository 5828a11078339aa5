import type { DocumentBuilder } from './build/document-builder.js';
import type { ActionInput } from './capture/action/schema.js';
import type { RequestContext, ScopeEvents } from './capture/context.js';
import type { ModelChange } from './capture/model-change.js';
import type { ActionEntry, RequestAppend, ResponseDetails, StoreBatch } from './shared/document.js';
import type { BuiltBatch } from './write/batch-writer.js';
import type { TrailSeal } from './integrity.js';
import { appendStep, batchStep, setupStep, type WriteStep } from './write/write-step.js';
import { emptyBatch } from './shared/batch-units.js';

/** What the failure policy `'throw'` needs of the logger. */
export interface StrictDeps {
  builder: DocumentBuilder;
  init(): Promise<void>;
  write(batch: StoreBatch): Promise<void>;
  append(appends: RequestAppend[]): Promise<void>;
  /** Runs a built batch once, now; rejects with `ActionLogStoreError`. */
  writeNow(built: BuiltBatch, documents: number): Promise<void>;
  /** Hands a batch built here to the queue, to be retried as any other. */
  requeue(batch: StoreBatch): void;
  /** A new ended scope holding `events`, for those made outside any scope; undefined when those are ignored. */
  standalone(events: ScopeEvents): RequestContext | undefined;
  /** With tamper evidence: links what is written here, and learns whether it was stored. */
  seal?: Pick<TrailSeal, 'seal' | 'stored' | 'lost'>;
}

/** A change, or a workflow step's action, held for its transaction, and the scope it was made in. */
export type HeldEvent = { change: ModelChange; context: RequestContext | null } | { action: ActionInput; context: RequestContext | null };

/** A held event checked and made ready to store: a change, or an action entry. */
export type ReadyEvent = { change: ModelChange; context: RequestContext | null } | { action: ActionEntry; context: RequestContext | null };

/**
 * The writes of the failure policy `'throw'`: on the caller's path, once, without retry, so that the caller (the
 * response, the transaction) fails when they fail.
 */
export class StrictWrites {
  constructor(private readonly deps: StrictDeps) {}

  /**
   * Stores the document of an ended scope now. When it cannot, the request fails but what it changed may be
   * committed: its document is still owed to the trail, so it is queued, saying `unstored` as its response.
   */
  async scope(ctx: RequestContext, unstored: ResponseDetails | undefined): Promise<void> {
    const batch = emptyBatch();
    this.deps.builder.request(ctx, ctx.takeEvents(), batch);
    this.deps.builder.stampExpiry(batch);
    const sealed = this.deps.seal?.seal(batch, []) ?? [];
    try {
      await this.deps.writeNow(this.built(batch, []), 1);
      this.deps.seal?.stored(sealed);
    } catch (error) {
      // Not stored under these links: the queue seals it again, as it is then stored.
      this.deps.seal?.lost(sealed);
      const doc = batch.requests[0];
      // The client gets the failure, so the document says so.
      if (doc && unstored) doc.details.response = unstored;
      this.deps.requeue(batch);
      throw error;
    }
  }

  /**
   * Stores the changes of a transaction about to commit, each appended to its scope's document (which may come
   * later: stores take appends first), or, outside any scope, as a document of their own.
   */
  async changes(held: readonly ReadyEvent[]): Promise<void> {
    const batch = emptyBatch();
    const appends: RequestAppend[] = [];
    for (const [ctx, events] of byScope(held)) {
      if (ctx) appends.push(this.deps.builder.append(ctx, events, batch));
      else {
        const own = this.deps.standalone(events);
        if (own) this.deps.builder.request(own, own.takeEvents(), batch);
      }
    }
    this.deps.builder.stampExpiry(batch);
    const documents = batch.requests.length + appends.length;
    if (documents === 0) return;
    const sealed = this.deps.seal?.seal(batch, appends) ?? [];
    try {
      await this.deps.writeNow(this.built(batch, appends), documents);
    } catch (error) {
      this.deps.seal?.lost(sealed);
      throw error;
    }
    this.deps.seal?.stored(sealed);
  }

  private built(batch: StoreBatch, appends: RequestAppend[]): BuiltBatch {
    const steps: WriteStep[] = [setupStep(() => this.deps.init())];
    const step = batchStep(batch, (part) => this.deps.write(part));
    if (step.size > 0) steps.push(step);
    if (appends.length > 0) steps.push(appendStep(appends, (part) => this.deps.append(part)));
    return { steps, itemOf: () => undefined };
  }
}

/** Changes and actions grouped by scope, in the order of their first event. */
function byScope(held: readonly ReadyEvent[]): Map<RequestContext | null, ScopeEvents> {
  const groups = new Map<RequestContext | null, ScopeEvents>();
  for (const event of held) {
    let group = groups.get(event.context);
    if (!group) groups.set(event.context, (group = { modelChanges: [], actions: [] }));
    if ('change' in event) group.modelChanges.push(event.change);
    else group.actions.push(event.action);
  }
  return groups;
}
