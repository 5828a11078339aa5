import { z } from 'zod';
import { toComparableDate } from '../../shared/dates.js';
import { storable } from '../../shared/strings.js';

/** Longest identifier kept: types, categories, custom field names (their SQL columns hold 200). */
export const NAME_MAX = 200;
/** Longest reference kept: ids and refs (their SQL columns hold 256). */
export const REF_MAX = 256;
/** Longest display text kept: names of targets, actors, sources, tags. */
export const TEXT_MAX = 1000;
/** Longest string value of a custom field. */
export const VALUE_MAX = 8192;

/**
 * The identifier rule: lower-case keys (`job_offer_creation`, as Auditize has them) and upper-case enums (`CREATE`,
 * `MCP_DEFINITION`, as an ActionLog service has them) alike.
 */
export const IDENTIFIER = /^[A-Za-z0-9_]+$/;
export const IDENTIFIER_RULE = 'must match [A-Za-z0-9_]+';

export const atMost = (max: number) => `must be at most ${max} characters`;

/** An identifier: a type, a category, a custom field name. */
export const identifier = (what: string) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : `${what} must be a string`) })
    .max(NAME_MAX, atMost(NAME_MAX))
    .regex(IDENTIFIER, `${what} ${IDENTIFIER_RULE}`);

/** An identifier that must be one of `allowed`, when a set is configured; the refusal names the set. */
export function allowedIdentifier(what: string, allowed: readonly string[] | undefined) {
  if (!allowed) return identifier(what);
  const set = new Set(allowed);
  return identifier(what).refine((value) => set.has(value), { error: `is not an allowed ${what} (allowed: ${allowed.join(', ')})` });
}

/** Text as stored: non-empty, bounded, made storable (U+0000 and unpaired surrogates replaced). */
export const bounded = (max: number) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
    .min(1, 'must not be empty')
    .max(max, atMost(max))
    .transform(storable);
export const text = bounded(TEXT_MAX);
export const ref = bounded(REF_MAX);

/** An id as given: a non-empty string or a finite number, kept with its type (the flat `*_id` column holds its text). */
export const id = z.union([ref, z.number()], {
  error: (i) => (i.input === undefined ? 'is required' : 'must be a non-empty string or a number'),
});

/**
 * A free-form object (context, a free `details`, a run's metadata), copied and redacted when recorded. Only its kind
 * is checked here: its members are the sanitizer's (which reads a getter that throws as `[Unreadable]` and leaves
 * symbol keys out), since a schema would read every member, and throw what a getter throws, on the caller's path.
 */
export const freeObject = z.custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), {
  error: 'must be an object',
});

export const date = z
  .union([z.date(), z.string(), z.number()], { error: 'must be a Date, an ISO string or epoch milliseconds' })
  // Stored, a date past the years 0000–9999 would sort apart from the others on some stores (SQLite compares text).
  .transform(toComparableDate);

export const tag = z.strictObject({ type: identifier('a tag type'), ref: ref.optional(), name: text.optional() }).superRefine((t, ctx) => {
  if ((t.ref === undefined) !== (t.name === undefined)) {
    ctx.addIssue({ code: 'custom', path: [t.ref === undefined ? 'ref' : 'name'], message: 'a tag has both ref and name, or neither' });
  }
});

/** Most items of a list of an action (tags, custom fields, an entity path), as of any array stored. */
export const LIST_MAX = 1000;
export const tooMany = `must hold at most ${LIST_MAX} items`;

export const entityPath = z
  .array(z.strictObject({ ref, name: text }), { error: 'must be a list of { ref, name }' })
  .min(1, 'must not be empty when given')
  .max(LIST_MAX, tooMany);
