import { z } from 'zod';
import { comparableDate } from '../shared/dates.js';
import { ActionLogValidationError, type ValidationIssue } from '../shared/errors.js';
import { closestName } from '../shared/zod-issues.js';
import type { CustomFieldMatch, EntryKind, StoreFilter } from '../stores/store.js';

type CustomKey = `details.${string}` | `source.${string}` | `actor.extra.${string}`;

/**
 * What to read (`kind`) and which entries: every given field must match. Which fields apply depends on the kind
 * (see the README, "Reading the trail"); one that does not, or an unknown one, is refused naming it.
 */
export interface QueryFilter {
  kind: EntryKind;
  request_uuid?: string;
  correlation_id?: string;
  module?: string;
  /** Who: the user of a request or change, the actor of an action, the user of an activity. */
  actor_id?: string | number;
  /** From this time on (inclusive): a `Date` or an ISO 8601 string. */
  from?: Date | string;
  /** Up to this time (inclusive). */
  to?: Date | string;
  action_type?: string;
  action_category?: string;
  target_type?: string;
  target_id?: string | number;
  tag_type?: string;
  tag_ref?: string;
  /** A ref anywhere in an action's `entity_path`. */
  entity_ref?: string;
  include_inactive?: boolean;
  /** Words to find in an action's note and names. */
  q?: string;
  model?: string;
  /** A record's id; `null` for the summary entries of query-level writes past `maxDocumentsPerQuery`. */
  model_id?: string | number | null;
  /** A change's action: `Created`, `Updated`, `Deleted`, `SoftDeleted`, `Restored`. */
  action?: string;
  /** A dotted path among a change's `changed_fields`. */
  changed_field?: string;
  method?: string;
  route?: string;
  status?: number;
  /** Custom field equality on actions: `details.<name>`, `source.<name>`, `actor.extra.<name>`. */
  [custom: CustomKey]: string | number | boolean | undefined;
}

const text = (max: number) =>
  z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const id = z.union([text(512), z.number()], { error: 'must be a string or a number' }).transform(String);
/** Every filter field, with the kinds it applies to. */
const FIELDS = {
  request_uuid: { schema: text(200), kinds: ['requests', 'actions', 'changes', 'activities'] },
  correlation_id: { schema: text(256), kinds: ['requests', 'actions', 'changes'] },
  module: { schema: text(200), kinds: ['requests', 'actions', 'changes'] },
  actor_id: { schema: id, kinds: ['requests', 'actions', 'changes', 'activities'] },
  from: { schema: comparableDate, kinds: ['requests', 'actions', 'changes', 'activities'] },
  to: { schema: comparableDate, kinds: ['requests', 'actions', 'changes', 'activities'] },
  action_type: { schema: text(200), kinds: ['actions'] },
  action_category: { schema: text(200), kinds: ['actions'] },
  target_type: { schema: text(200), kinds: ['actions'] },
  target_id: { schema: id, kinds: ['actions'] },
  tag_type: { schema: text(200), kinds: ['actions'] },
  tag_ref: { schema: text(256), kinds: ['actions'] },
  entity_ref: { schema: text(256), kinds: ['actions'] },
  include_inactive: { schema: z.boolean({ error: 'must be a boolean' }), kinds: ['actions'] },
  q: { schema: text(200), kinds: ['actions'] },
  model: { schema: text(200), kinds: ['requests', 'changes'] },
  model_id: { schema: id.nullable(), kinds: ['requests', 'changes'] },
  action: {
    schema: z.enum(['Created', 'Updated', 'Deleted', 'SoftDeleted', 'Restored'], {
      error: 'must be Created, Updated, Deleted, SoftDeleted or Restored',
    }),
    kinds: ['changes'],
  },
  changed_field: { schema: text(1000), kinds: ['changes'] },
  method: { schema: text(20).transform((m) => m.toUpperCase()), kinds: ['requests'] },
  route: { schema: text(1000), kinds: ['requests'] },
  status: {
    schema: z
      .number({ error: 'must be a number' })
      .int('must be an integer')
      .min(100, 'must be an HTTP status (100-599)')
      .max(599, 'must be an HTTP status (100-599)'),
    kinds: ['requests'],
  },
} satisfies Record<string, { schema: z.ZodType; kinds: EntryKind[] }>;

type FieldName = keyof typeof FIELDS;
const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];
const CUSTOM = /^(details|source|actor\.extra)\.([A-Za-z0-9_]+)$/;
const customValue = z.union([z.string().max(8192), z.number(), z.boolean()], { error: 'must be a string, a number or a boolean' });

/** Validates a filter for its kind and normalizes it for the stores; every bad field is named in one error. */
export function parseFilter(input: unknown, what = 'query filter'): { kind: EntryKind; filter: StoreFilter } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ActionLogValidationError([{ path: '', message: `must be an object with a kind (${KINDS.join(', ')})` }], what);
  }
  const given = input as Record<string, unknown>;
  const kind = given.kind as EntryKind;
  if (!KINDS.includes(kind)) {
    throw new ActionLogValidationError([{ path: 'kind', message: `must be one of ${KINDS.join(', ')}` }], what);
  }
  const issues: ValidationIssue[] = [];
  const filter: Record<string, unknown> = {};
  const custom: CustomFieldMatch[] = [];
  for (const [key, value] of Object.entries(given)) {
    if (key === 'kind' || value === undefined) continue;
    const customKey = CUSTOM.exec(key);
    if (customKey) {
      if (kind !== 'actions') issues.push({ path: key, message: 'applies to actions only' });
      const parsed = customValue.safeParse(value);
      if (parsed.success) custom.push({ in: customKey[1] as CustomFieldMatch['in'], name: customKey[2] ?? '', value: parsed.data });
      else issues.push({ path: key, message: parsed.error.issues[0]?.message ?? 'is invalid' });
      continue;
    }
    const field = Object.hasOwn(FIELDS, key) ? FIELDS[key as FieldName] : undefined;
    if (!field) {
      const near = closestName(key, fieldsOf(kind));
      issues.push({ path: key, message: near ? `unknown filter (did you mean "${near}"?)` : 'unknown filter' });
      continue;
    }
    if (!(field.kinds as EntryKind[]).includes(kind)) {
      issues.push({ path: key, message: `does not apply to ${kind} (it applies to ${field.kinds.join(', ')})` });
      continue;
    }
    const parsed = (field.schema as z.ZodType).safeParse(value);
    if (parsed.success) filter[key] = parsed.data;
    else issues.push({ path: key, message: parsed.error.issues[0]?.message ?? 'is invalid' });
  }
  if (filter.from instanceof Date && filter.to instanceof Date && filter.from > filter.to) {
    issues.push({ path: 'to', message: 'must not be before from' });
  }
  if (issues.length > 0) throw new ActionLogValidationError(issues, what);
  if (custom.length > 0) filter.custom = custom;
  return { kind, filter };
}

/** The filter fields of a kind. */
export function fieldsOf(kind: EntryKind): string[] {
  return Object.entries(FIELDS)
    .filter(([, field]) => (field.kinds as EntryKind[]).includes(kind))
    .map(([name]) => name);
}

/** An actor id as the `actor_id` filter takes it (a string, or a number kept as its text), for `latestAction`. */
export const actorIdSchema = id;
/** An action type as the `action_type` filter takes it. */
export const actionTypeSchema = text(200);
