import { z } from 'zod';
import { ActionLogValidationError, type ValidationIssue } from '../shared/errors.js';
import { actionTypeSchema, actorIdSchema } from './filter.js';

/** The arguments of `logger.latestAction(actor, type)`, checked as the `actor_id` and `action_type` filters are. */
export function parseLatestArgs(actor: unknown, type: unknown): { actorId: string; actionType: string } {
  const issues: ValidationIssue[] = [];
  const actorId = check(actorIdSchema, actor, 'actor', issues);
  const actionType = check(actionTypeSchema, type, 'type', issues);
  if (issues.length > 0 || actorId === undefined || actionType === undefined) throw new ActionLogValidationError(issues, 'latestAction');
  return { actorId, actionType };
}

function check<T>(schema: z.ZodType<T>, value: unknown, path: string, issues: ValidationIssue[]): T | undefined {
  if (value === undefined || value === null) {
    issues.push({ path, message: 'is required' });
    return undefined;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  issues.push({ path, message: parsed.error.issues[0]?.message ?? 'is invalid' });
  return undefined;
}
