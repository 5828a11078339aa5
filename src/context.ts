import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { ActionEntry, ModelAction, ResponseDetails, UserRef } from './document.js';

/** A model change as an adapter reports it (a model log, before sanitizing and diffing). */
export interface ModelChange {
  action: ModelAction;
  /** Collection or table name, e.g. `orders`. */
  model: string;
  /** Mongoose model name / TypeORM entity class name, e.g. `Order`. */
  model_class_name: string;
  /** `db.collection` or `schema.table`. */
  model_namespace: string;
  /** Primary key as a string; null on a query summary entry. */
  model_id: string | null;
  /** Ownership passes to the logger: adapters hand over fresh copies they never mutate again. */
  old_object: Record<string, unknown> | null;
  new_object: Record<string, unknown> | null;
  /** Computed from old and new when absent. */
  changed_fields?: string[];
  /** When the change happened; default now. */
  timestamp?: Date;
  /** Dotted paths left out of old and new objects (and of `changed_fields`). */
  omit?: readonly string[];
  /** Summary of a query over `maxDocumentsPerQuery` documents. */
  query?: { filter: unknown; update: unknown; matched: number };
  truncated?: boolean;
}

/** The HTTP request as captured when it ends; sanitized when its document is built. */
export interface CapturedRequest {
  method: string;
  url: string;
  route: string | null;
  ip: string | null;
  user_agent: string | null;
  body: unknown;
  headers: Record<string, unknown>;
}

/** What a scope knows when it opens. */
export interface ScopeInit<Source = unknown> {
  requestUuid: string;
  module?: string;
  correlationId?: string;
  metadata?: Record<string, unknown>;
  /** What the scope's user and client address are read from (the framework's request), lazily. */
  source?: Source;
  /** Reads the scope's user from `source`; called on demand until the scope ends. */
  userOf?: (source: Source) => unknown;
  /** Reads the client address from `source`; called at most once. */
  ipOf?: (source: Source) => string | undefined;
}

/** What the owning logger does with a scope's events. */
export interface ContextOwner {
  describeUser(user: unknown): UserRef | null;
  /** The scope ended: its document goes to the writer. */
  ended(context: RequestContext): void;
  /** Events arrived after the document was taken by the writer: queue an append. */
  lateEvents(context: RequestContext): void;
}

type State = 'open' | 'queued' | 'written';

/**
 * Everything one request, job run or standalone change records: the unit that becomes one request document.
 * Get the current one with `logger.current()`.
 */
export class RequestContext {
  readonly requestUuid: string;
  /** When the scope started. */
  readonly timestamp = new Date();
  readonly correlationId: string | undefined;
  /** Free-form metadata of a `run()` scope. */
  readonly metadata: Record<string, unknown> | undefined;

  /** @internal */ readonly startedAt = performance.now();
  /** @internal */ modelChanges: ModelChange[] | undefined;
  /** @internal */ actions: ActionEntry[] | undefined;
  /** @internal created on the first late event */ lateModelChanges: ModelChange[] | undefined;
  /** @internal */ lateActions: ActionEntry[] | undefined;
  /** @internal */ appendQueued = false;
  /** @internal */ state: State = 'open';
  /** @internal set when an HTTP request ends */ request: CapturedRequest | null = null;
  /** @internal */ response: ResponseDetails | null = null;
  /** @internal set when a run() scope ends */ run: { durationMs: number; error: { name: string; message: string } | null } | null = null;
  /** @internal model logs already in the stored document */ storedModelLogs = 0;
  /** @internal estimated size of the stored document */ storedBytes = 0;

  private moduleName: string | undefined;
  /** @internal what user and address are read from (the framework's request), until the scope ends */ source: unknown;
  private userOf: ((source: unknown) => unknown) | undefined;
  private ipOf: ((source: unknown) => string | undefined) | undefined;
  private userRef: UserRef | null | undefined;
  private address: string | null | undefined;

  /** @internal */
  constructor(
    init: ScopeInit,
    /** @internal */ readonly owner: ContextOwner,
  ) {
    this.requestUuid = init.requestUuid;
    this.moduleName = init.module;
    this.correlationId = init.correlationId;
    this.metadata = init.metadata;
    this.source = init.source;
    this.userOf = init.userOf as ((source: unknown) => unknown) | undefined;
    this.ipOf = init.ipOf as ((source: unknown) => string | undefined) | undefined;
  }

  /** Client address of an HTTP request, or null. */
  get ip(): string | null {
    if (this.address === undefined) this.address = this.ipOf?.(this.source) ?? null;
    return this.address;
  }

  /** @internal Milliseconds since the scope opened, to the microsecond. */
  elapsedMs(): number {
    return Math.round((performance.now() - this.startedAt) * 1000) / 1000;
  }

  /** The module of the document, when one was set (by option, middleware or `setModule`). */
  get module(): string | undefined {
    return this.moduleName;
  }

  /** Overrides the module of this scope's document. */
  setModule(module: string): void {
    this.moduleName = module;
  }

  /** The scope's user as stored, resolved on demand until the scope ends. */
  get user(): UserRef | null {
    if (this.userRef !== undefined) return this.userRef;
    const user = this.userOf?.(this.source);
    const ref = user === undefined || user === null ? null : this.owner.describeUser(user);
    // An authenticated user may appear later in the request (auth runs after the middleware): only cache a hit.
    if (ref) this.userRef = ref;
    return ref;
  }

  /** Sets the scope's user (anything `describeUser` understands, or null). */
  setUser(user: unknown): void {
    this.userRef = user === null || user === undefined ? null : this.owner.describeUser(user);
  }

  /** True once the scope ended; later events are appended to its document. */
  get ended(): boolean {
    return this.state !== 'open';
  }

  /** @internal */
  addModelChange(change: ModelChange): void {
    if (this.state === 'written') {
      (this.lateModelChanges ??= []).push(change);
      this.owner.lateEvents(this);
    } else {
      (this.modelChanges ??= []).push(change);
    }
  }

  /** @internal */
  addAction(action: ActionEntry): void {
    if (this.state === 'written') {
      (this.lateActions ??= []).push(action);
      this.owner.lateEvents(this);
    } else {
      (this.actions ??= []).push(action);
    }
  }

  /** @internal Ends the scope once; later calls do nothing. */
  end(): boolean {
    if (this.state !== 'open') return false;
    this.userRef = this.user;
    void this.ip;
    // The framework's request is not kept past the end of the scope.
    this.source = this.userOf = this.ipOf = undefined;
    this.state = 'queued';
    this.owner.ended(this);
    return true;
  }
}

const STORAGE_KEY = Symbol.for('actionlog.context-storage');
type WithStorage = typeof globalThis & { [STORAGE_KEY]?: AsyncLocalStorage<RequestContext> };

/**
 * The one AsyncLocalStorage of the process, shared by every copy of actionlog loaded (ESM and CJS builds,
 * duplicated installs), so that all of them see the same scope.
 */
export const contextStorage: AsyncLocalStorage<RequestContext> = ((globalThis as WithStorage)[STORAGE_KEY] ??=
  new AsyncLocalStorage<RequestContext>());
