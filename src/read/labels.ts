import { z } from 'zod';
import { IDENTIFIER, IDENTIFIER_RULE } from '../capture/action/fields.js';
import { ActionLogValidationError } from '../shared/errors.js';

/** What a label names: an action type, an action category, a target type (their values), or a field (a column). */
export type LabelKind = 'action_type' | 'action_category' | 'target_type' | 'field';

/** Display names per language: `{ fr: { action_type: { CREATE: 'Création' }, field: { actor_id: 'Acteur' } } }`. */
export type Labels = Record<string, Partial<Record<LabelKind, Record<string, string>>>>;

const label = z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(1000, 'must be at most 1000 characters');
const values = z
  .record(z.string(), label, { error: 'must be an object of labels' })
  .superRefine((labels, ctx) => {
    // Checked here rather than by a key schema, whose failure zod reports without the key's own message.
    for (const key of Object.keys(labels)) {
      if (!IDENTIFIER.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `a key ${IDENTIFIER_RULE}` });
    }
  })
  .optional();

const LANGUAGE = /^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$/;

export const labelsSchema = z
  .record(
    z.string(),
    z.strictObject({
      action_type: values,
      action_category: values,
      target_type: values,
      field: z.record(z.string().min(1, 'must not be empty'), label, { error: 'must be an object of labels' }).optional(),
    }),
    { error: 'must be an object of languages' },
  )
  .superRefine((labels, ctx) => {
    for (const lang of Object.keys(labels)) {
      if (!LANGUAGE.test(lang)) ctx.addIssue({ code: 'custom', path: [lang], message: 'must be a language tag (en, fr, pt-BR)' });
    }
  });

/** A key as a reader would write it: `job_offer_creation` → `Job offer creation`, `actor.name` → `Actor name`, `CREATE` → `Create`. */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s._-]+/)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
  const sentence = words.join(' ');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

/** The configured labels, read in one language at a time; a key without a label reads humanized. */
export class LabelBook {
  constructor(private readonly labels: Labels = {}) {}

  /** The label of `key` in `lang`; `lang` must be configured (a misspelt language is never silently humanized). */
  label(lang: string, kind: LabelKind, key: string): string {
    return this.language(lang)[kind]?.[key] ?? humanize(key);
  }

  /** The labels of one language; throws `ActionLogValidationError` naming the configured ones when it has none. */
  language(lang: string, path = 'lang'): Labels[string] {
    const found = Object.hasOwn(this.labels, lang) ? this.labels[lang] : undefined;
    if (found) return found;
    const known = Object.keys(this.labels);
    const message = known.length ? `has no labels (configured: ${known.join(', ')})` : 'has no labels (see the labels option)';
    throw new ActionLogValidationError([{ path, message }], 'labels');
  }
}
