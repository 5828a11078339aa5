import type { ModelAction } from '../shared/document.js';
import { dateProblem } from '../shared/dates.js';
import type { ValidationIssue } from '../shared/errors.js';

/** A model change as an adapter reports it (a model log, before sanitizing and diffing). */
export interface ModelChange {
  action: ModelAction;
  /** Collection or table name, e.g. `orders`. */
  model: string;
  /** Mongoose model name / TypeORM entity class name, e.g. `Order`. */
  model_class_name: string;
  /** `db.collection` or `schema.table`. */
  model_namespace: string;
  /** Primary key as a string; null on a query summary entry. */
  model_id: string | null;
  /** Ownership passes to the logger: adapters hand over fresh copies they never mutate again. */
  old_object: Record<string, unknown> | null;
  new_object: Record<string, unknown> | null;
  /** Computed from old and new when absent. */
  changed_fields?: string[];
  /** When the change happened; default now. */
  timestamp?: Date;
  /** Dotted paths left out of old and new objects (and of `changed_fields`). */
  omit?: readonly string[];
  /** Summary of a query over `maxDocumentsPerQuery` documents. */
  query?: { filter: unknown; update: unknown; matched: number };
  truncated?: boolean;
}

const ACTIONS: ReadonlySet<unknown> = new Set(['Created', 'Updated', 'Deleted', 'SoftDeleted', 'Restored']);

function isRecordOrNull(value: unknown): boolean {
  return value === null || (typeof value === 'object' && !Array.isArray(value));
}

function isStringList(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Cheap structural checks of an adapter's model change (it is on the write path, so no schema library here). */
export function checkModelChange(input: unknown): ValidationIssue[] {
  if (input === null || typeof input !== 'object') return [{ path: '', message: 'must be an object' }];
  // Checked field by field: an adapter written in JavaScript may hand anything.
  const change = input as Partial<Record<keyof ModelChange, unknown>>;
  const issues: ValidationIssue[] = [];
  if (!ACTIONS.has(change.action)) issues.push({ path: 'action', message: `must be one of ${[...ACTIONS].join(', ')}` });
  for (const key of ['model', 'model_class_name', 'model_namespace'] as const) {
    if (typeof change[key] !== 'string' || change[key] === '') issues.push({ path: key, message: 'must be a non-empty string' });
  }
  if (change.model_id !== null && typeof change.model_id !== 'string')
    issues.push({ path: 'model_id', message: 'must be a string or null' });
  if (change.model_id === null && !change.truncated)
    issues.push({ path: 'model_id', message: 'may be null only on a truncated summary entry' });
  if (!isRecordOrNull(change.old_object)) issues.push({ path: 'old_object', message: 'must be an object or null' });
  if (!isRecordOrNull(change.new_object)) issues.push({ path: 'new_object', message: 'must be an object or null' });
  for (const key of ['changed_fields', 'omit'] as const) {
    if (change[key] !== undefined && !isStringList(change[key])) issues.push({ path: key, message: 'must be an array of strings' });
  }
  const query = change.query as Partial<NonNullable<ModelChange['query']>> | null | undefined;
  if (
    query !== undefined &&
    (query === null || typeof query !== 'object' || !('filter' in query) || !('update' in query) || typeof query.matched !== 'number')
  )
    issues.push({ path: 'query', message: 'must be an object with filter, update and matched (a number)' });
  if (change.truncated !== undefined && typeof change.truncated !== 'boolean')
    issues.push({ path: 'truncated', message: 'must be a boolean' });
  if (change.timestamp !== undefined) {
    const problem = change.timestamp instanceof Date ? dateProblem(change.timestamp) : 'must be a valid Date';
    if (problem) issues.push({ path: 'timestamp', message: problem });
  }
  return issues;
}
