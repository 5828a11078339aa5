import type { z } from 'zod';
import { ActionLogConfigError } from './errors.js';
import { fromZodIssues } from './zod-issues.js';

/** Throws `ActionLogConfigError` unless `options` is an object: `shape` says what it should look like. */
export function requireObject(options: unknown, shape: string, what: string): void {
  if (options === null || typeof options !== 'object')
    throw new ActionLogConfigError([{ path: '', message: `options must be an object: ${shape}` }], what);
}

/**
 * Validates the options of any part (logger, stores, middleware, ORM adapters) the same way: an unknown or
 * ill-typed option throws `ActionLogConfigError` naming it (with the nearest known name for a misspelt one). `what` names the part in the message.
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) throw new ActionLogConfigError(fromZodIssues(parsed.error.issues, schema), what);
  return parsed.data;
}
