import { z } from 'zod';
import { ActionLogValidationError } from '../../shared/errors.js';
import { fromZodIssues } from '../../shared/zod-issues.js';
import { type ActionDraft, emptyDraft, userActor } from './draft.js';
import { bounded, ref, REF_MAX } from './fields.js';

/** Options of `logger.deactivate`. */
export interface DeactivateOptions {
  /** Why the entry is deactivated: the note of the action that records it. */
  reason: string;
  /** Who deactivates it (a user id); default: the user of the current scope. */
  actor?: string | number;
}

/** The action type, category and target type of the action that records a deactivation. */
export const DEACTIVATION = { type: 'deactivate', category: 'actionlog', target: 'action_log' } as const;

const optionsSchema = z.strictObject(
  {
    reason: bounded(2000),
    actor: z.union([ref, z.number()], { error: 'must be a non-empty string or a number' }).optional(),
  },
  { error: 'must be { reason, actor? }' },
);

/** An entry's id as reads give it (`entry._id`): a string, a number or an ObjectId, as its text. */
function entryIdText(entryId: unknown): string | undefined {
  if (typeof entryId === 'number') return Number.isFinite(entryId) ? String(entryId) : undefined;
  if (typeof entryId === 'string') return entryId.length > 0 && entryId.length <= REF_MAX ? entryId : undefined;
  const hex = (entryId as { toHexString?: unknown } | null)?.toHexString;
  return typeof hex === 'function' ? String(hex.call(entryId)) : undefined;
}

/**
 * Checks a deactivation and drafts the action that records it (outside `actionTypes`/`targetTypes`: actionlog's
 * own), by `actor` or else the scope's user; every bad input is named.
 */
export function deactivationDraft(entryId: unknown, options: unknown, scopeHasUser: boolean): { id: string; draft: ActionDraft } {
  const id = entryIdText(entryId);
  const issues =
    id === undefined ? [{ path: 'entryId', message: "must be an entry's _id: a non-empty string, a number or an ObjectId" }] : [];
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) issues.push(...fromZodIssues(parsed.error.issues, optionsSchema));
  if (parsed.success && parsed.data.actor === undefined && !scopeHasUser) {
    issues.push({ path: 'actor', message: 'is required (the current scope has no user)' });
  }
  if (issues.length > 0 || id === undefined || !parsed.success) throw new ActionLogValidationError(issues, 'deactivate');
  const draft = emptyDraft(DEACTIVATION.type);
  draft.action_category = DEACTIVATION.category;
  // Without one, the entry takes the scope's user as its actor (see actionEntry).
  if (parsed.data.actor !== undefined) draft.actor = userActor(parsed.data.actor);
  draft.target = { type: DEACTIVATION.target, id };
  draft.note = parsed.data.reason;
  return { id, draft };
}
