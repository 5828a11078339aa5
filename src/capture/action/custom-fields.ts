import { z } from 'zod';
import type { CustomField, CustomFieldType } from '../../shared/document.js';
import { storable } from '../../shared/strings.js';
import { atMost, identifier, LIST_MAX, tooMany, VALUE_MAX } from './fields.js';

const CUSTOM_FIELD_TYPES = ['string', 'enum', 'json', 'datetime', 'boolean', 'integer', 'float'] as const;

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
    name: identifier('a custom field name'),
    value: z.union([z.string().max(VALUE_MAX, atMost(VALUE_MAX)).transform(storable), z.number(), z.boolean()], {
      error: (i) => (i.input === undefined ? 'is required' : 'must be a string, a finite number or a boolean'),
    }),
    type: z.enum(CUSTOM_FIELD_TYPES, { error: `must be one of ${CUSTOM_FIELD_TYPES.join(', ')}` }).optional(),
  })
  .superRefine((field, ctx) => {
    if (field.type && !fitsType(field.type, field.value)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `does not fit its declared type "${field.type}"` });
    }
  })
  .transform((field): CustomField => ({ name: field.name, value: field.value, type: field.type ?? inferFieldType(field.value) }));

/** A list of custom fields (`details`, `source`, `actor.extra`, `resource.extra`): each typed, names unique. */
export const customFields = z
  .array(customField, { error: 'must be a list of custom fields { name, value, type? }' })
  .max(LIST_MAX, tooMany)
  .superRefine((fields, ctx) => {
    const seen = new Set<string>();
    fields.forEach((field, i) => {
      if (seen.has(field.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate custom field "${field.name}"` });
      seen.add(field.name);
    });
  });
