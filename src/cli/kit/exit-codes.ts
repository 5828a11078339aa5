import { ActionLogError, ActionLogValidationError, type ValidationIssue } from '../../shared/errors.js';

/**
 * The exit status of every command: 0 done; 1 a finding the command exists to report (reserved: `verify` found
 * tampering); 2 it could not run (bad arguments, a database it cannot reach or read).
 */
export const EXIT = { ok: 0, finding: 1, failed: 2 } as const;

/** Bad arguments, named by their flag (`--from: must be a valid date`). */
export function usageError(flag: string, message: string): ActionLogValidationError {
  return new ActionLogValidationError([{ path: flag, message }], 'arguments');
}

/**
 * What the user reads of an error, with no stack: the message (and the cause's, which says why a connection
 * failed). A stack is for a bug, and only with `ACTIONLOG_DEBUG=1`.
 */
export function describeError(error: unknown, issuePath: (path: string) => string): string {
  if (error instanceof ActionLogValidationError && error.issues.length > 0) {
    return `Invalid arguments: ${error.issues.map((issue: ValidationIssue) => flagged(issue, issuePath)).join('; ')}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof ActionLogError && error.cause instanceof Error ? error.cause.message : undefined;
  return cause && !message.includes(cause) ? `${message}: ${cause}` : message;
}

function flagged(issue: ValidationIssue, issuePath: (path: string) => string): string {
  return issue.path ? `${issuePath(issue.path)}: ${issue.message}` : issue.message;
}
