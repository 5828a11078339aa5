import { z } from 'zod';
import type { CustomField, CustomFieldType } from '../shared/document.js';
import { storable } from '../shared/strings.js';
import { keysAt, unknownField } from '../shared/zod-issues.js';

/** Longest identifier kept: types, categories, custom field names (their SQL columns hold 200). */
export const NAME_MAX = 200;
/** Longest reference kept: ids and refs (their SQL columns hold 256). */
export const REF_MAX = 256;
/** Longest display text kept: names of targets, actors, sources, tags. */
export const TEXT_MAX = 1000;
/** Longest string value of a custom field. */
export const VALUE_MAX = 8192;

const NAME = /^[a-z0-9_]+$/;
const atMost = (max: number) => `must be at most ${max} characters`;
const name = (what: string) => z.string().max(NAME_MAX, atMost(NAME_MAX)).regex(NAME, `${what} must match [a-z0-9_]+`);
/** Text as stored: non-empty, bounded, made storable (U+0000 and unpaired surrogates replaced). */
const bounded = (max: number) => z.string().min(1, 'must not be empty').max(max, atMost(max)).transform(storable);
const text = bounded(TEXT_MAX);
const ref = bounded(REF_MAX);
const id = z.union([ref, z.number()], {
  error: 'must be a non-empty string or a number',
});

const CUSTOM_FIELD_TYPES = ['string', 'enum', 'json', 'datetime', 'boolean', 'integer', 'float'] as const;

/** What `logger.record()` accepts. */
export interface ActionInput {
  action: string | { type: string; category?: string };
  actor?: string | { ref: string; type: string; name: string; extra?: Record<string, unknown> };
  target?: { type: string; id: string | number; name?: string };
  /** Alias of `target`. */
  resource?: { type: string; id: string | number; name?: string };
  context?: Record<string, unknown>;
  note?: string;
  details?: Array<{ name: string; value: string | number | boolean; type?: CustomFieldType }>;
  source?: string | { type: string; ref?: string; name?: string };
  tags?: Array<{ type: string } | { type: string; ref: string; name: string }>;
  entity_path?: Array<{ ref: string; name: string }>;
  emitted_at?: Date | string | number;
  is_active?: boolean;
}

function fitsType(type: CustomFieldType, value: unknown): boolean {
  switch (type) {
    case 'string':
    case 'enum':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'datetime':
      return (typeof value === 'string' && !Number.isNaN(Date.parse(value))) || (typeof value === 'number' && Number.isFinite(value));
    case 'json':
      if (typeof value !== 'string') return false;
      try {
        JSON.parse(value);
        return true;
      } catch {
        return false;
      }
  }
}

/** The type a custom field gets when none is declared. */
export function inferFieldType(value: string | number | boolean): CustomFieldType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float';
  return 'string';
}

const customField = z
  .strictObject({
    name: name('a custom field name'),
    value: z.union([z.string().max(VALUE_MAX, atMost(VALUE_MAX)).transform(storable), z.number(), z.boolean()], {
      error: 'must be a string, a finite number or a boolean',
    }),
    type: z.enum(CUSTOM_FIELD_TYPES, { error: `must be one of ${CUSTOM_FIELD_TYPES.join(', ')}` }).optional(),
  })
  .superRefine((field, ctx) => {
    if (field.type && !fitsType(field.type, field.value)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `does not fit its declared type "${field.type}"` });
    }
  })
  .transform((field): CustomField => ({ name: field.name, value: field.value, type: field.type ?? inferFieldType(field.value) }));

const tag = z.strictObject({ type: name('a tag type'), ref: ref.optional(), name: text.optional() }).superRefine((t, ctx) => {
  if ((t.ref === undefined) !== (t.name === undefined)) {
    ctx.addIssue({ code: 'custom', path: [t.ref === undefined ? 'ref' : 'name'], message: 'a tag has both ref and name, or neither' });
  }
});

const date = z
  .union([z.date(), z.string(), z.number()], { error: 'must be a Date, an ISO string or epoch milliseconds' })
  .transform((v, ctx) => {
    const d = v instanceof Date ? v : new Date(v);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'is not a valid date' });
      return z.NEVER;
    }
    return d;
  });

/**
 * A field given either as a string or as an object. Unlike a plain union, an object with a missing
 * field is reported at that field (`actor.name`), not as "matches neither form".
 */
function stringOrObject<S extends z.ZodType, O extends z.ZodType>(str: S, obj: O, message: string) {
  return z.unknown().transform((value, ctx): z.output<S> | z.output<O> => {
    const schema = typeof value === 'string' ? str : value !== null && typeof value === 'object' && !Array.isArray(value) ? obj : undefined;
    if (!schema) {
      ctx.addIssue({ code: 'custom', message: value === undefined ? 'is required' : message });
      return z.NEVER;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
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

export interface ActionSchemaOptions {
  actionTypes?: readonly string[];
  targetTypes?: readonly string[];
}

/** Builds the `record()` input schema once per logger, with its allowed types. */
export function createActionSchema(options: ActionSchemaOptions) {
  const allowedActions = options.actionTypes ? new Set(options.actionTypes) : undefined;
  const allowedTargets = options.targetTypes ? new Set(options.targetTypes) : undefined;
  const actionType = allowedActions
    ? name('an action type').refine((t) => allowedActions.has(t), { error: 'is not an allowed action type' })
    : name('an action type');
  const targetType = allowedTargets
    ? name('a target type').refine((t) => allowedTargets.has(t), { error: 'is not an allowed target type' })
    : name('a target type');
  const target = z.strictObject({ type: targetType, id, name: text.optional() });

  return z
    .strictObject({
      action: stringOrObject(
        actionType,
        z.strictObject({ type: actionType, category: name('an action category').optional() }),
        'must be a string or { type, category? }',
      ),
      actor: stringOrObject(
        ref,
        z.strictObject({ ref, type: name('an actor type'), name: text, extra: z.record(z.string(), z.unknown()).optional() }),
        'must be a non-empty string or { ref, type, name, extra? }',
      ).optional(),
      target: target.optional(),
      resource: target.optional(),
      context: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
      note: z.string().optional(),
      details: z.array(customField).optional(),
      source: stringOrObject(
        bounded(NAME_MAX),
        z.strictObject({ type: bounded(NAME_MAX), ref: ref.optional(), name: text.optional() }),
        'must be a non-empty string or { type, ref?, name? }',
      ).optional(),
      tags: z.array(tag).optional(),
      entity_path: z
        .array(z.strictObject({ ref, name: text }))
        .min(1, 'must not be empty when given')
        .optional(),
      emitted_at: date.optional(),
      is_active: z.boolean().optional(),
    })
    .superRefine((input, ctx) => {
      if (input.target && input.resource) {
        ctx.addIssue({ code: 'custom', path: ['resource'], message: 'give target or its alias resource, not both' });
      }
      const seen = new Set<string>();
      input.details?.forEach((field, i) => {
        if (seen.has(field.name))
          ctx.addIssue({ code: 'custom', path: ['details', i, 'name'], message: `duplicate custom field "${field.name}"` });
        seen.add(field.name);
      });
    });
}

export type ParsedActionInput = z.output<ReturnType<typeof createActionSchema>>;
