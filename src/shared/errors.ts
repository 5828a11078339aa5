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

/**
 * `purge()` or `archive()` stopped because `integrity.anchor` did not return within `integrity.anchorTimeoutMs`: the
 * batch it had recorded in a checkpoint is not deleted (a later run deletes it).
 */
export class ActionLogAnchorTimeoutError extends ActionLogError {
  static override readonly [KIND]: string = 'ActionLogAnchorTimeoutError';
  override name = 'ActionLogAnchorTimeoutError';
  constructor(
    readonly operation: 'purge' | 'archive',
    /** The number of the checkpoint the anchor was given and has not returned from. */
    readonly checkpoint: number | undefined,
    readonly timeoutMs: number,
  ) {
    super(
      `${operation}: integrity.anchor did not return within ${timeoutMs} ms (integrity.anchorTimeoutMs)` +
        `${checkpoint === undefined ? '' : ` for checkpoint ${checkpoint}`}; the batch it records was not deleted`,
    );
  }
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
