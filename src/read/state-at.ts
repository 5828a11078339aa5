import { REDACTED } from '../build/sanitize/redactor.js';
import { sameValue } from '../build/diff.js';
import type { ModelLogDocument } from '../shared/document.js';
import type { Store } from '../stores/store.js';

/**
 * A record as it was at a moment: `state` (null before its creation and after its deletion), and whether the trail
 * proves it (`complete`), with the reasons when it does not (`why`).
 */
export interface RecordState {
  state: Record<string, unknown> | null;
  complete: boolean;
  why?: string;
  /** The change the state comes from (none before the first). */
  from_change?: { action: ModelLogDocument['action']; when: Date; request_uuid: string };
}

/** Markers the sanitizer leaves where a value was not stored whole. */
const MARKERS = /^\[(Truncated|Circular|truncated \d+ items|REDACTED)|…\[truncated \d+ chars\]$/;

/**
 * The state from the last change at or before `at`. Unlike a log of new states alone there is no off-by-one: every
 * change holds both states, and the next change's old state checks the last one's new state.
 */
export async function stateAt(store: Store, target: { model: string; model_id: string | null; at: Date }): Promise<RecordState> {
  const record = { model: target.model, model_id: target.model_id };
  const [last] = await store.query({ kind: 'changes', filter: { ...record, to: target.at }, by: 'time', order: 'desc', limit: 1 });
  const [next] = await store.query({
    kind: 'changes',
    filter: record,
    by: 'time',
    order: 'asc',
    limit: 1,
    ...(last ? { after: last.position } : {}),
  });
  const why: string[] = [];
  if (!last) {
    if (!next) return { state: null, complete: false, why: 'no change of this record is in the trail' };
    if (next.entry.action !== 'Created')
      why.push(`its history starts after this moment, with ${next.entry.action} at ${iso(next.entry.timestamp)}`);
    return verdict(null, why);
  }
  const log = last.entry;
  const state = log.action === 'Deleted' ? null : log.model_details.new_object;
  if (state) {
    const omitted = log.model_details.omitted;
    if (omitted?.length) why.push(`omitted paths are not in the trail: ${omitted.join(', ')}`);
    const hidden = markedPaths(state);
    if (hidden.length > 0) why.push(`values redacted or cut when stored: ${hidden.join(', ')}`);
  }
  const summaries = await store.count('changes', { model: target.model, model_id: null, from: log.timestamp, to: target.at });
  if (summaries > 0) why.push('a query-level write past maxDocumentsPerQuery may have changed it (only a summary is in the trail)');
  if (next && !sameValue(next.entry.model_details.old_object, state)) {
    why.push(`it was changed outside actionlog between ${iso(log.timestamp)} and ${iso(next.entry.timestamp)}`);
  }
  return verdict(state, why, { action: log.action, when: log.timestamp, request_uuid: log.request_uuid });
}

function verdict(state: RecordState['state'], why: string[], from?: RecordState['from_change']): RecordState {
  const result: RecordState = { state, complete: why.length === 0 };
  if (why.length > 0) result.why = why.join('; ');
  if (from) result.from_change = from;
  return result;
}

const iso = (date: Date) => date.toISOString();

/** Paths holding a redaction or truncation marker, shallow first, at most a few. */
function markedPaths(value: unknown, path = '', out: string[] = []): string[] {
  if (out.length >= 5) return out;
  if (typeof value === 'string') {
    if (value === REDACTED || MARKERS.test(value)) out.push(path || '(value)');
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => markedPaths(item, path ? `${path}.${i}` : String(i), out));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) markedPaths(item, path ? `${path}.${key}` : key, out);
  }
  return out;
}
