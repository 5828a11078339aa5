/** One problem with an input, named by its dotted path (`target.type`, `details.0.value`). */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Names the kind of an actionlog error class, the same in every copy of the package. */
const KIND = Symbol.for('actionlog.error-kind');

type ErrorClass = (abstract new (...args: never[]) => object) & { [KIND]?: string };

/**
 * Base class of every error actionlog throws or reports. `instanceof` holds across copies of the package (its
 * ESM and CommonJS builds, or two installs): an application that loads both still catches every error.
 */
export class ActionLogError extends Error {
  static readonly [KIND]: string = 'ActionLogError';
  override name = 'ActionLogError';

  static override [Symbol.hasInstance](this: ErrorClass, value: unknown): boolean {
    // A class of the application's own (a subclass of ours) keeps plain prototype identity.
    const kind = Object.hasOwn(this, KIND) ? this[KIND] : undefined;
    if (kind === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
    for (
      let proto: unknown = value === null || typeof value !== 'object' ? null : Object.getPrototypeOf(value);
      proto;
      proto = Object.getPrototypeOf(proto)
    ) {
      const ctor = (proto as { constructor?: ErrorClass }).constructor;
      if (ctor && Object.hasOwn(ctor, KIND) && ctor[KIND] === kind) return true;
    }
    return false;
  }
}

/** Invalid options given to `createActionLogger`, a store or a middleware. */
export class ActionLogConfigError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogConfigError';
  override name = 'ActionLogConfigError';
  constructor(
    readonly issues: ValidationIssue[],
    what = 'options',
  ) {
    super(`Invalid actionlog ${what}: ${formatIssues(issues)}`);
  }
}

/** Invalid input to `record()`, `activity()` or `recordModelChange()`; `issues` names every bad field. */
export class ActionLogValidationError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogValidationError';
  override name = 'ActionLogValidationError';
  constructor(
    readonly issues: ValidationIssue[],
    what = 'input',
  ) {
    super(`Invalid ${what}: ${formatIssues(issues)}`);
  }
}

/** Work handed to a logger after `close()`. */
export class ActionLogClosedError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogClosedError';
  override name = 'ActionLogClosedError';
  constructor() {
    super('This action logger is closed: nothing more can be recorded (create a new logger).');
  }
}

/** A store failed; `documents` holds what could not be written when the writer gave up. */
export class ActionLogStoreError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogStoreError';
  override name = 'ActionLogStoreError';
  constructor(
    message: string,
    readonly documents: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A workflow step that is not allowed now (approving what is not pending, by someone it is not addressed to...). */
export class ActionLogWorkflowError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogWorkflowError';
  override name = 'ActionLogWorkflowError';
}

/** The writer's queue was full and documents were dropped (see the `onQueueFull` option); reported at most once a second. */
export class ActionLogQueueFullError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogQueueFullError';
  override name = 'ActionLogQueueFullError';
  constructor(
    readonly maxQueueSize: number,
    /** Documents dropped since the last report. */
    readonly dropped = 1,
  ) {
    super(
      `The actionlog write queue is full (${maxQueueSize} documents): ${dropped} document${dropped === 1 ? ' was' : 's were'} dropped.`,
    );
  }
}

/** A store refused one document while it stored the rest of its batch: the document is quarantined (`logger.quarantined()`). */
export class ActionLogQuarantineError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogQuarantineError';
  override name = 'ActionLogQuarantineError';
  constructor(
    /** Which collection the document was for, or `append`. */
    readonly kind: string,
    readonly requestUuid: string | null,
    options?: { cause?: unknown },
  ) {
    super(
      `The store refused a ${kind} document${requestUuid ? ` of request ${requestUuid}` : ''}; it is quarantined and the rest of its batch stored.`,
      options,
    );
  }
}

/** Entries a purge deleted or an archive moved, per kind (requests, actions, changes, activities). */
export type RemovedCounts = Record<'requests' | 'actions' | 'changes' | 'activities', number>;

/** What else an `ActionLogAnchorTimeoutError` says; see its fields. */
export interface AnchorTimeoutDetails {
  recorded?: boolean;
  behind?: number;
  counts?: RemovedCounts;
}

/**
 * `purge()` or `archive()` stopped because `integrity.anchor` did not return within `integrity.anchorTimeoutMs`: the
 * batch under way is not deleted (a later run deletes it); `counts` says what the run removed before.
 */
export class ActionLogAnchorTimeoutError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogAnchorTimeoutError';
  override name = 'ActionLogAnchorTimeoutError';
  /**
   * Whether the batch under way was recorded in `checkpoint`; false when an earlier checkpoint's anchor was already
   * overdue, and the run stopped before recording anything more.
   */
  readonly recorded: boolean;
  /** The earlier checkpoint whose copy, not returned, holds back that of `checkpoint`, if any. */
  readonly behind: number | undefined;
  /** Entries the run deleted (purge) or moved (archive) before it stopped, per kind. */
  readonly counts: RemovedCounts;

  constructor(
    readonly operation: 'purge' | 'archive',
    /** The checkpoint whose anchor has not returned: the one recording the batch, or an earlier overdue one (`recorded` false). */
    readonly checkpoint: number | undefined,
    readonly timeoutMs: number,
    details: AnchorTimeoutDetails = {},
  ) {
    const recorded = details.recorded ?? true;
    const counts = { requests: 0, actions: 0, changes: 0, activities: 0, ...details.counts };
    super(
      `${operation}: ${anchorTimeoutMessage(operation, checkpoint, timeoutMs, recorded, details.behind)}; ${removedBefore(operation, counts)}`,
    );
    this.recorded = recorded;
    this.behind = details.behind;
    this.counts = counts;
  }

  /** The same error, with what the run removed before it stopped. */
  withCounts(counts: RemovedCounts): ActionLogAnchorTimeoutError {
    return new ActionLogAnchorTimeoutError(this.operation, this.checkpoint, this.timeoutMs, {
      recorded: this.recorded,
      behind: this.behind,
      counts: { ...counts },
    });
  }
}

function anchorTimeoutMessage(
  operation: 'purge' | 'archive',
  checkpoint: number | undefined,
  timeoutMs: number,
  recorded: boolean,
  behind: number | undefined,
): string {
  const limit = `${timeoutMs} ms (integrity.anchorTimeoutMs)`;
  if (!recorded)
    return `integrity.anchor has not returned for checkpoint ${checkpoint} within ${limit}; the next batch was not recorded or removed`;
  const which = checkpoint === undefined ? '' : ` for checkpoint ${checkpoint}`;
  const waiting = behind === undefined ? '' : ` (its copy waits behind checkpoint ${behind}'s)`;
  // The archive copies a batch before recording it: a rerun copies it again, which the destination keeps once.
  const batch =
    operation === 'archive'
      ? 'the batch it records was copied to the destination but not deleted (a rerun copies it again: a store keeps one copy, a stream gets its lines twice)'
      : 'the batch it records was not deleted';
  return `integrity.anchor did not return within ${limit}${which}${waiting}; ${batch}`;
}

function removedBefore(operation: 'purge' | 'archive', counts: RemovedCounts): string {
  const done = Object.entries(counts).filter(([, n]) => n > 0);
  const verb = operation === 'purge' ? 'deleted' : 'moved';
  return done.length === 0 ? `nothing ${verb} before` : `${verb} before: ${done.map(([kind, n]) => `${n} ${kind}`).join(', ')}`;
}

function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

/** The spool reached `spool.maxBytes` and documents were dropped by its `policy`; reported at most once a second. */
export class ActionLogSpoolFullError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogSpoolFullError';
  override name = 'ActionLogSpoolFullError';
  constructor(
    readonly maxBytes: number,
    /** Documents dropped since the last report. */
    readonly dropped: number,
  ) {
    super(`The actionlog spool is full (${maxBytes} bytes): ${dropped} document${dropped === 1 ? ' was' : 's were'} dropped.`);
  }
}

/** Any thrown value as text, never throwing itself (`Object.create(null)`, a `toString` or a proxy that throws). */
export function thrownText(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return '[unprintable value]';
    }
  }
}

/** A thrown value's name and message, as strings whatever it was (an Error's `message` may be any value, or a getter). */
export function errorSummary(error: unknown): { name: string; message: string } {
  if (!(error instanceof Error)) return { name: 'Error', message: thrownText(error) };
  return { name: memberText(error, 'name'), message: memberText(error, 'message') };
}

function memberText(error: Error, key: 'name' | 'message'): string {
  try {
    const value: unknown = error[key];
    return typeof value === 'string' ? value : thrownText(value);
  } catch (thrown) {
    return `[${key} could not be read: ${thrownText(thrown)}]`;
  }
}
