import { inferFieldType } from '../capture/action/custom-fields.js';
import type { ActionEntry, CustomField } from '../shared/document.js';

type SentField = { name: string; value: string | number | boolean; type?: CustomField['type'] };

/** Custom fields as a source sends them: a type that is the one inferred from the value is left out. */
function asSent(fields: CustomField[] | Record<string, unknown> | null | undefined): SentField[] {
  if (!Array.isArray(fields)) return [];
  return fields.map((f) => (f.type === inferFieldType(f.value) ? { name: f.name, value: f.value } : { ...f }));
}

/**
 * A stored action in Auditize's log model (what its API returns, without id and attachments). An entry recorded in
 * that shape comes back as sent; a free `details` object, which that model cannot hold, reads as no details.
 */
export function asAuditizeLog(entry: ActionEntry) {
  const { actor, target } = entry;
  return {
    action: { type: entry.action_type, category: entry.action_category ?? '' },
    source: asSent(Array.isArray(entry.source) ? entry.source : null),
    actor: actor ? { ref: String(actor.ref), type: actor.type, name: actor.name, extra: asSent(actor.extra) } : null,
    resource: target ? { ref: String(target.id ?? ''), type: target.type, name: target.name ?? '', extra: asSent(target.extra) } : null,
    details: asSent(entry.details),
    tags: entry.tags.map((t) => ({ ...t })),
    entity_path: (entry.entity_path ?? []).map((e) => ({ ...e })),
    emitted_at: entry.emitted_at,
    saved_at: entry.saved_at,
  };
}

/** A stored action as an ActionLog service's row (`create_action_log_entry`'s arguments and its `timestamp`). */
export function asServiceEntry(entry: ActionEntry) {
  return {
    actor_id: entry.actor?.ref ?? null,
    action_type: entry.action_type,
    entity_type: entry.target_type,
    entity_id: entry.target?.id ?? null,
    details: entry.details,
    timestamp: entry.emitted_at,
  };
}

/** A stored action as an `auditLog` object. */
export function asAuditLogObject(entry: ActionEntry) {
  return {
    actorUserId: entry.actor?.ref ?? null,
    actionType: entry.action_type,
    targetObjectType: entry.target_type,
    targetObjectId: entry.target?.id ?? null,
    context: entry.context,
    note: entry.note,
    createdAt: entry.emitted_at,
  };
}
