import { z } from 'zod';
import type { CustomField, TargetRef } from '../../shared/document.js';
import { customFields } from './custom-fields.js';
import { type ActionDraft, emptyDraft, userActor } from './draft.js';
import { bounded, date, entityPath, freeObject, id, identifier, LIST_MAX, NAME_MAX, ref, tag, text, tooMany } from './fields.js';
import { byForm, picked } from './forms.js';
import type { ShapeOptions } from './shape-options.js';

type CustomFieldInput = { name: string; value: string | number | boolean; type?: CustomField['type'] };

/** `logger.record()` by actionlog's own names, which are Auditize's log model (its `resource`, list-form `source`, `extra`). */
export interface NativeActionInput {
  /** A type, or Auditize's `{ type, category }` (both required in that form). */
  action: string | { type: string; category: string };
  /** An id (a user), or `{ ref, type, name, extra? }` with `extra` a list of custom fields (or a free object). */
  actor?: string | { ref: string; type: string; name: string; extra?: CustomFieldInput[] | Record<string, unknown> };
  target?: { type: string; id: string | number; name?: string };
  /** Auditize's `{ ref, type, name, extra? }`, or an alias of `target`. */
  resource?: { ref: string; type: string; name: string; extra?: CustomFieldInput[] } | { type: string; id: string | number; name?: string };
  context?: Record<string, unknown>;
  note?: string;
  /** Custom fields, or a free object kept as given. */
  details?: CustomFieldInput[] | Record<string, unknown>;
  /** Auditize's list of custom fields, a `{ type, ref?, name? }`, or just a type. */
  source?: CustomFieldInput[] | string | { type: string; ref?: string; name?: string };
  tags?: Array<{ type: string } | { type: string; ref: string; name: string }>;
  entity_path?: Array<{ ref: string; name: string }>;
  emitted_at?: Date | string | number;
  is_active?: boolean;
}

/** The keys that mark this shape (the others name theirs differently). */
export const NATIVE_KEY = 'action';

export function nativeShape(options: ShapeOptions) {
  const actionType = options.actionType;
  const targetType = options.targetType;
  const target = z.strictObject({ type: targetType, id, name: text.optional() });
  const auditizeResource = z
    .strictObject({ ref, type: targetType, name: text, extra: customFields.optional() })
    .transform((r): TargetRef => Object.assign({ type: r.type, id: r.ref, name: r.name }, r.extra ? { extra: r.extra } : {}));
  const isObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v);

  return z
    .strictObject({
      action: byForm(
        { string: actionType, object: z.strictObject({ type: actionType, category: identifier('an action category') }) },
        'must be a type or { type, category }',
      ),
      actor: byForm(
        {
          string: ref,
          object: z.strictObject({
            ref,
            type: identifier('an actor type'),
            name: text,
            extra: byForm({ list: customFields, object: freeObject }, 'must be a list of custom fields or an object').optional(),
          }),
        },
        'must be a non-empty string or { ref, type, name, extra? }',
      ).optional(),
      target: target.optional(),
      resource: picked<TargetRef>(
        (v) => (isObject(v) ? ('ref' in v ? auditizeResource : target) : undefined),
        'must be { ref, type, name, extra? } or { type, id, name? }',
      ).optional(),
      context: freeObject.optional(),
      note: z.string({ error: 'must be a string' }).optional(),
      details: byForm({ list: customFields, object: freeObject }, 'must be a list of custom fields or an object').optional(),
      source: byForm(
        {
          list: customFields,
          string: bounded(NAME_MAX),
          object: z.strictObject({ type: bounded(NAME_MAX), ref: ref.optional(), name: text.optional() }),
        },
        'must be a list of custom fields, a non-empty string or { type, ref?, name? }',
      ).optional(),
      tags: z.array(tag, { error: 'must be a list of tags' }).max(LIST_MAX, tooMany).optional(),
      entity_path: entityPath.optional(),
      emitted_at: date.optional(),
      is_active: z.boolean({ error: 'must be a boolean' }).optional(),
    })
    .superRefine((input, ctx) => {
      if (input.target && input.resource) {
        ctx.addIssue({ code: 'custom', path: ['resource'], message: 'give target or resource, not both' });
      }
    })
    .transform((input): ActionDraft => {
      const draft = emptyDraft(typeof input.action === 'string' ? input.action : input.action.type);
      if (typeof input.action !== 'string') draft.action_category = input.action.category;
      if (input.actor !== undefined) draft.actor = typeof input.actor === 'string' ? userActor(input.actor) : input.actor;
      draft.target = input.target ?? input.resource ?? null;
      draft.context = input.context ?? null;
      draft.note = input.note ?? null;
      draft.details = input.details ?? [];
      draft.source = typeof input.source === 'string' ? { type: input.source } : (input.source ?? null);
      draft.tags = input.tags ?? [];
      draft.entity_path = input.entity_path ?? null;
      draft.emitted_at = input.emitted_at ?? null;
      draft.is_active = input.is_active ?? true;
      return draft;
    });
}
