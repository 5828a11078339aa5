import { z } from 'zod';
import { keysAt, unknownField } from '../../shared/zod-issues.js';

/** The kinds of value a field may take several forms by. */
export type Form = 'string' | 'number' | 'list' | 'object';

function formOf(value: unknown): Form | undefined {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'number';
  if (Array.isArray(value)) return 'list';
  return value !== null && typeof value === 'object' ? 'object' : undefined;
}

/**
 * A field given in one of several forms (a string or an object; a list or an object), picked by the kind of the
 * value. Unlike a plain union, a value of a known form with a bad part is reported at that part (`actor.name`),
 * not as "matches no form".
 */
export function byForm<F extends Partial<Record<Form, z.ZodType>>>(forms: F, message: string) {
  return picked<z.output<NonNullable<F[keyof F]>>>((value) => {
    const form = formOf(value);
    return form ? forms[form] : undefined;
  }, message);
}

/** A field whose schema `pick` chooses from its value (e.g. by the keys an object has); `message` when none fits. */
export function picked<T>(pick: (value: unknown) => z.ZodType | undefined, message: string) {
  return z.unknown().transform((value, ctx): T => {
    const schema = pick(value);
    if (!schema) {
      ctx.addIssue({ code: 'custom', message: value === undefined ? 'is required' : message });
      return z.NEVER;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data as T;
    for (const issue of parsed.error.issues) {
      if (issue.code !== 'unrecognized_keys') ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
      // Kept one per key, with its "did you mean", as the top-level schema reports them.
      else
        for (const key of issue.keys)
          ctx.addIssue({ code: 'custom', message: unknownField(key, keysAt(schema, issue.path)), path: [...issue.path, key] });
    }
    return z.NEVER;
  });
}
