/** One problem with an input, named by its dotted path (`target.type`, `details.0.value`). */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Base class of every error actionlog throws or reports. */
export class ActionLogError extends Error {
  override name = 'ActionLogError';
}

/** Invalid options given to `createActionLogger`, a store or a middleware. */
export class ActionLogConfigError extends ActionLogError {
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
  override name = 'ActionLogClosedError';
  constructor() {
    super('This action logger is closed: nothing more can be recorded (create a new logger).');
  }
}

/** A store failed; `documents` holds what could not be written when the writer gave up. */
export class ActionLogStoreError extends ActionLogError {
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
  override name = 'ActionLogWorkflowError';
}

/** The writer's queue was full and a document was dropped (see the `onQueueFull` option). */
export class ActionLogQueueFullError extends ActionLogError {
  override name = 'ActionLogQueueFullError';
  constructor(readonly maxQueueSize: number) {
    super(`The actionlog write queue is full (${maxQueueSize} documents); a document was dropped.`);
  }
}

function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

/** Turns zod issues into ours, with dotted paths. */
export function fromZodIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: string[] }>,
  prefix = '',
): ValidationIssue[] {
  const join = (path: ReadonlyArray<PropertyKey>) => [prefix, ...path.map(String)].filter(Boolean).join('.');
  return issues.flatMap((issue) => {
    // One issue per unknown key, so each is named by its own path.
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      return issue.keys.map((key) => ({ path: join([...issue.path, key]), message: 'unknown field' }));
    }
    return [{ path: join(issue.path), message: issue.message }];
  });
}
