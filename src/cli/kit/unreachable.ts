import { ActionLogStoreError } from '../../shared/errors.js';

/** A connection string as it may be shown: without its password. */
export const withoutPassword = (uri: string): string => uri.replace(/\/\/([^:/@]*):[^/]*@/, '//$1:***@');

/** A database that did not answer, named by where it was looked for, with the driver's reason. */
export function unreachable(what: string, where: string, error: unknown): ActionLogStoreError {
  const reason = error instanceof Error ? error.message : String(error);
  return new ActionLogStoreError(`Could not connect to ${what} at ${withoutPassword(where)}: ${reason || 'no answer'}`, 0);
}
