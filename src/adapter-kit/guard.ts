import type { ActionLogger } from 'actionlog';
import { ActionLogConfigError } from '../shared/errors.js';

/** Throws `ActionLogConfigError` naming `what` unless `logger` is an ActionLogger: adapters check it when created. */
export function assertLogger(logger: unknown, what: string): asserts logger is ActionLogger {
  const l = logger as Partial<ActionLogger> | null | undefined;
  if (!l || typeof l.openScope !== 'function' || typeof l.recordModelChange !== 'function') {
    throw new ActionLogConfigError([{ path: 'logger', message: 'must be an ActionLogger (createActionLogger)' }], what);
  }
}

/** Runs adapter work inside the application's call: an error is reported, and thrown only in strict mode. */
export function guard(logger: ActionLogger, work: () => void): void {
  try {
    work();
  } catch (error) {
    logger.reportError(error);
  }
}
