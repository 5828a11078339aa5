import { z } from 'zod';
import { type ActionDraft, emptyDraft, userActor } from './draft.js';
import { date, freeObject, id } from './fields.js';
import type { ShapeOptions } from './shape-options.js';
import { missingTargetType, targetOf } from './target-pair.js';

/** `logger.record()` as an `auditLog` object has it. */
export interface AuditLogActionInput {
  actionType: string;
  /** Default: the scope's user. */
  actorUserId?: string | number | null;
  targetObjectType?: string | null;
  targetObjectId?: string | number | null;
  context?: Record<string, unknown> | null;
  note?: string | null;
  /** When it happened; default now. */
  createdAt?: Date | string | number;
}

export const AUDIT_LOG_KEY = 'actionType';

export function auditLogShape(options: ShapeOptions) {
  return z
    .strictObject({
      actionType: options.actionType,
      actorUserId: id.nullish(),
      targetObjectType: options.targetType.nullish(),
      targetObjectId: id.nullish(),
      context: freeObject.nullish(),
      note: z.string({ error: 'must be a string' }).nullish(),
      createdAt: date.optional(),
    })
    .superRefine((input, ctx) => {
      if (missingTargetType(input, 'targetObjectType', 'targetObjectId'))
        ctx.addIssue({ code: 'custom', path: ['targetObjectType'], message: 'is required when targetObjectId is given' });
    })
    .transform((input): ActionDraft => {
      const draft = emptyDraft(input.actionType);
      if (input.actorUserId !== null && input.actorUserId !== undefined) draft.actor = userActor(input.actorUserId);
      draft.target = targetOf(input.targetObjectType, input.targetObjectId);
      draft.context = input.context ?? null;
      draft.note = input.note ?? null;
      draft.emitted_at = input.createdAt ?? null;
      return draft;
    });
}
