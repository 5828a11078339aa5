import { z } from 'zod';
import type { CustomField } from '../../shared/document.js';
import { customFields } from './custom-fields.js';
import { type ActionDraft, emptyDraft, userActor } from './draft.js';
import { date, freeObject, id } from './fields.js';
import { byForm } from './forms.js';
import type { ShapeOptions } from './shape-options.js';
import { missingTargetType, targetOf } from './target-pair.js';

/** `logger.record()` as an ActionLog service's `create_action_log_entry(...)` call sends it. */
export interface ServiceActionInput {
  /** `CREATE`, `MCP_VERSION_CREATED`... */
  action_type: string;
  /** Default: the scope's user. */
  actor_id?: string | number | null;
  entity_type?: string | null;
  entity_id?: string | number | null;
  /** A free object, kept as given (or a list of custom fields). */
  details?: Record<string, unknown> | Array<{ name: string; value: string | number | boolean; type?: CustomField['type'] }> | null;
  /** When it happened (the service's `timestamp` column); default now. */
  timestamp?: Date | string | number;
}

export const SERVICE_KEY = 'action_type';

export function serviceShape(options: ShapeOptions) {
  return z
    .strictObject({
      action_type: options.actionType,
      actor_id: id.nullish(),
      entity_type: options.targetType.nullish(),
      entity_id: id.nullish(),
      details: byForm({ object: freeObject, list: customFields }, 'must be an object or a list of custom fields').nullish(),
      timestamp: date.optional(),
    })
    .superRefine((input, ctx) => {
      if (missingTargetType(input, 'entity_type', 'entity_id'))
        ctx.addIssue({ code: 'custom', path: ['entity_type'], message: 'is required when entity_id is given' });
    })
    .transform((input): ActionDraft => {
      const draft = emptyDraft(input.action_type);
      if (input.actor_id !== null && input.actor_id !== undefined) draft.actor = userActor(input.actor_id);
      draft.target = targetOf(input.entity_type, input.entity_id);
      draft.details = input.details ?? [];
      draft.emitted_at = input.timestamp ?? null;
      return draft;
    });
}
