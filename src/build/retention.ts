import type { ActionEntry, ModelLog, RequestAppend, StoreBatch, StoredAttachment } from '../shared/document.js';
import { LATEST } from '../shared/dates.js';

/** Days entries are kept: `retentionDays` for all, and per model or per action type overrides of it. */
export interface RetentionRules {
  days: number | undefined;
  models: Readonly<Record<string, number>>;
  actionTypes: Readonly<Record<string, number>>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
// At most the end of the year 9999: a longer retention (`retentionDays: 1e7`, "for ever") is kept that long. Beyond,
// SQLite compares the text of a later year as earlier than now, and past JavaScript's last date it is no date at all.
const after = (from: Date, days: number) => new Date(Math.min(from.getTime() + days * DAY_MS, LATEST));
const own = (table: Readonly<Record<string, number>>, key: string): number | undefined =>
  Object.hasOwn(table, key) ? table[key] : undefined;

/**
 * Sets `expires_at` on the documents of a batch. A change or an action in its own collection (`changes`, `actions`)
 * expires after its model's or its action type's days, else `retentionDays`; an activity after `retentionDays`. A
 * request document holds changes and actions as well: it is kept as long as the longest kept of them, and never
 * less than `retentionDays` (without `retentionDays`, it does not expire).
 */
export function stampExpiry(batch: StoreBatch, rules: RetentionRules): void {
  const { days, models, actionTypes } = rules;
  for (const doc of batch.modelLogs) {
    const kept = own(models, doc.model) ?? days;
    if (kept !== undefined) doc.expires_at = after(doc.timestamp, kept);
  }
  for (const doc of batch.actionLogs) {
    const kept = own(actionTypes, doc.action_type) ?? days;
    if (kept !== undefined) doc.expires_at = after(doc.emitted_at, kept);
  }
  if (days === undefined) return;
  for (const doc of batch.activities) doc.expires_at = after(doc.activity_date, days);
  for (const doc of batch.requests) doc.expires_at = after(doc.timestamp, keptDays(doc.details, rules, days));
}

/** A request's expiry for what an append of it holds (see `RequestAppend.expires_at`); none without `retentionDays`. */
export function appendExpiry(
  requestTime: Date,
  events: Pick<RequestAppend, 'model_logs' | 'actions'>,
  rules: RetentionRules,
): Date | undefined {
  return rules.days === undefined ? undefined : after(requestTime, keptDays(events, rules, rules.days));
}

/** How long a request holding these events is kept: the longest of `days` and their overrides. */
function keptDays(
  events: { model_logs: readonly ModelLog[]; actions: readonly ActionEntry[] },
  rules: RetentionRules,
  days: number,
): number {
  let kept = days;
  for (const log of events.model_logs) kept = Math.max(kept, own(rules.models, log.model) ?? days);
  for (const entry of events.actions) kept = Math.max(kept, own(rules.actionTypes, entry.action_type) ?? days);
  return kept;
}

/** What `attachmentsOf` is given: an action and the bytes of its attachments. */
export interface ActionBytes {
  entry: ActionEntry;
  bytes: ReadonlyArray<Omit<StoredAttachment, 'timestamp' | 'expires_at'>>;
}

/**
 * The attachments of a batch as stored, each kept at least as long as any entry that names it (its action, the
 * action's mirror, its request document): its `timestamp` is now or the action's time if later (no entry of it is
 * later), and it expires after the longest of `retentionDays` and every override (never before those entries).
 */
export function attachmentsOf(actions: readonly ActionBytes[], rules: RetentionRules, now = new Date()): StoredAttachment[] {
  const { days, models, actionTypes } = rules;
  const longest = days === undefined ? undefined : Math.max(days, ...Object.values(models), ...Object.values(actionTypes));
  return actions.flatMap(({ entry, bytes }) => {
    const timestamp = entry.emitted_at > now ? entry.emitted_at : now;
    const kept = longest === undefined ? {} : { expires_at: after(timestamp, longest) };
    return bytes.map((b) => ({ ...b, timestamp, ...kept }));
  });
}
