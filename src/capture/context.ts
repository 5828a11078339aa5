import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { ActionEntry, RequestDetails, ResponseDetails, UserRef } from '../shared/document.js';
import type { ModelChange } from './model-change.js';
import { newUuid } from '../shared/uuid.js';

/** The HTTP request as captured when it ends (the stored form without its user); sanitized when its document is built. */
export type CapturedRequest = Omit<RequestDetails, 'user_details'>;

/** How a `run()` scope ended. */
export interface RunOutcome {
  durationMs: number;
  error: { name: string; message: string } | null;
}

/** What a scope's document shows of how it ended, beside its events: an HTTP exchange, or a run. */
export interface ScopeEnding {
  request?: CapturedRequest;
  response?: ResponseDetails;
  run?: RunOutcome;
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

/** Events taken out of a scope, for its document or for an append to it. */
export interface ScopeEvents {
  modelChanges: ModelChange[];
  actions: ActionEntry[];
}

/**
 * What a scope's request document holds so far, counted by the document builder against its limits (see
 * `SizeBudget`). It lives with the scope, not in a map keyed by it: late events are appended to the same document,
 * and a WeakMap keyed by every scope keeps each one alive through the young generation's collections.
 */
export interface DocumentFill {
  bytes: number;
  modelLogs: number;
}

/** Open: events go into its document. Queued: ended, its document waits for the writer. Written: events are late. */
type State = 'open' | 'queued' | 'written';

/**
 * Everything one request, job run or standalone change records: the unit that becomes one request document.
 * Get the current one with `logger.current()`. Its state changes here only: the logger moves it along, the
 * document builder only reads it (and counts its `documentFill`).
 */
export class RequestContext {
  /** The server's id of the scope's document, unique; `requestUuid` is what the client claims. */
  readonly uid = newUuid();
  readonly requestUuid: string;
  /** When the scope started. */
  readonly timestamp = new Date();
  readonly correlationId: string | undefined;
  /** Free-form metadata of a `run()` scope. */
  readonly metadata: Record<string, unknown> | undefined;

  /** @internal What its stored document holds so far; the document builder's to count (see `DocumentFill`). */
  readonly documentFill: DocumentFill = { bytes: 0, modelLogs: 0 };

  private readonly startedAt = performance.now();
  private state: State = 'open';
  private modelChanges: ModelChange[] | undefined;
  private actions: ActionEntry[] | undefined;
  /** Created on the first late event. */
  private lateModelChanges: ModelChange[] | undefined;
  private lateActions: ActionEntry[] | undefined;
  private appendQueued = false;
  private ending: ScopeEnding = {};

  private moduleName: string | undefined;
  /** @internal what user and address are read from (the framework's request), until the scope ends */ source: unknown;
  private userOf: ((source: unknown) => unknown) | undefined;
  private ipOf: ((source: unknown) => string | undefined) | undefined;
  private userRef: UserRef | null | undefined;
  /** The user reader threw once already (told to `onError` once per scope). */
  private userFailed = false;
  private address: string | null | undefined;

  /** @internal */
  constructor(
    init: ScopeInit,
    private readonly describeUser: (user: unknown) => UserRef | null,
    /** Where a `userOf` or `ipOf` that throws is told of: the application's code, never allowed to fail the request. */
    private readonly report: (error: unknown) => void,
  ) {
    this.requestUuid = init.requestUuid;
    this.moduleName = init.module;
    this.correlationId = init.correlationId;
    this.metadata = init.metadata;
    this.source = init.source;
    this.userOf = init.userOf;
    this.ipOf = init.ipOf;
  }

  /** Client address of an HTTP request, or null. */
  get ip(): string | null {
    // Read once: null ("no address") is an answer too.
    if (this.address === undefined) {
      try {
        this.address = this.ipOf?.(this.source) ?? null;
      } catch (error) {
        this.report(error);
        this.address = null;
      }
    }
    return this.address;
  }

  /** Milliseconds since the scope opened, to the microsecond. */
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
    let user: unknown;
    try {
      user = this.userOf?.(this.source);
    } catch (error) {
      // Not kept: it may answer later in the request (`req.user.id` before the authentication ran). Told once.
      if (!this.userFailed) this.report(error);
      this.userFailed = true;
      return null;
    }
    const ref = user === undefined || user === null ? null : this.describeUser(user);
    // An authenticated user may appear later in the request (auth runs after the middleware): only cache a hit.
    if (ref) this.userRef = ref;
    return ref;
  }

  /** Sets the scope's user (anything `describeUser` understands, or null). */
  setUser(user: unknown): void {
    this.userRef = user === null || user === undefined ? null : this.describeUser(user);
  }

  /** True once the scope ended; later events are appended to its document. */
  get ended(): boolean {
    return this.state !== 'open';
  }

  /** @internal How the scope ended (set once, by `end`). */
  get endedWith(): Readonly<ScopeEnding> {
    return this.ending;
  }

  /** @internal Adds a change; true when it is the first late event since the last append was queued. */
  addModelChange(change: ModelChange): boolean {
    if (this.state !== 'written') {
      (this.modelChanges ??= []).push(change);
      return false;
    }
    (this.lateModelChanges ??= []).push(change);
    return this.queueAppend();
  }

  /** @internal Adds an action; true when it is the first late event since the last append was queued. */
  addAction(action: ActionEntry): boolean {
    if (this.state !== 'written') {
      (this.actions ??= []).push(action);
      return false;
    }
    (this.lateActions ??= []).push(action);
    return this.queueAppend();
  }

  /** @internal Ends the scope once (later calls return false); the framework's request is let go. */
  end(ending?: ScopeEnding): boolean {
    if (this.state !== 'open') return false;
    // Resolved now: the framework's request is let go below.
    this.userRef = this.user;
    this.address = this.ip;
    this.source = this.userOf = this.ipOf = undefined;
    if (ending) this.ending = ending;
    this.state = 'queued';
    return true;
  }

  /** @internal Takes the events of the scope's document: from now on, events are late and go to appends. */
  takeEvents(): ScopeEvents {
    this.state = 'written';
    const events = { modelChanges: this.modelChanges ?? [], actions: this.actions ?? [] };
    this.modelChanges = this.actions = undefined;
    return events;
  }

  /** @internal Takes the late events recorded since the last append; the next late event queues another. */
  takeLateEvents(): ScopeEvents {
    this.appendQueued = false;
    const events = { modelChanges: this.lateModelChanges ?? [], actions: this.lateActions ?? [] };
    this.lateModelChanges = this.lateActions = undefined;
    return events;
  }

  private queueAppend(): boolean {
    if (this.appendQueued) return false;
    this.appendQueued = true;
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
