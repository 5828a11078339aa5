import { z } from 'zod';
import { ActionLogConfigError, ActionLogValidationError } from '../shared/errors.js';
import { fromZodIssues } from '../shared/zod-issues.js';
import type { EntryKind, Store } from './store.js';

/** Options of `logger.purge`. */
export interface PurgeOptions {
  /** Also delete entries older than this (a `Date` or an ISO 8601 string), expired or not. */
  before?: Date | string;
  /** Entries deleted per round trip (each its own transaction); default 1000. */
  batchSize?: number;
  /** Called after each batch with its kind and how many entries it deleted: a progress report. */
  onBatch?: (kind: EntryKind, count: number) => void;
}

/** How many entries `purge` deleted, per kind (requests, actions, changes, activities). */
export type PurgeCounts = Record<EntryKind, number>;

/** What `logger.purge` deleted: entries per kind, and attachments (0 on a store that keeps none). */
export type PurgeResult = PurgeCounts & { attachments: number };

/** The options a purge and an archive share: what is old enough, and how many entries per round trip. */
export const batchedRemovalFields = {
  before: z
    .union([z.date(), z.string()], { error: 'must be a Date or an ISO 8601 string' })
    .transform((value, ctx) => {
      const date = value instanceof Date ? value : new Date(value);
      if (Number.isNaN(date.getTime())) {
        ctx.addIssue({ code: 'custom', message: 'must be a valid date' });
        return z.NEVER;
      }
      return date;
    })
    .optional(),
  batchSize: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(10_000, 'must be at most 10000')
    .default(1000),
  onBatch: z.custom<(kind: EntryKind, count: number) => void>((v) => typeof v === 'function', { error: 'must be a function' }).optional(),
};

const purgeSchema = z.strictObject(batchedRemovalFields);

export const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];

export type PurgePlan = z.output<typeof purgeSchema>;

/** Checks the options of a purge, and that the store can do it, before anything is deleted. */
export function planPurge(store: Store, options: PurgeOptions | undefined): PurgePlan {
  const parsed = purgeSchema.safeParse(options ?? {});
  if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, purgeSchema), 'purge options');
  if (!store.purge) {
    throw new ActionLogConfigError([{ path: 'store', message: 'has no purge(): this store cannot delete entries' }], 'purge');
  }
  return parsed.data;
}

/**
 * Deletes expired entries (and with `before`, older ones) of every kind, a batch at a time: memory stays bounded by
 * one batch, and a run killed midway is finished by the next one. Expiry is judged at the start of the run.
 * Attachments go last, by their own time and expiry, which are never earlier than those of the entries naming them:
 * an entry that stays never loses its attachment, and one killed run leaves none behind its entries.
 */
export async function purgeEntries(store: Store, { before, batchSize, onBatch }: PurgePlan): Promise<PurgeResult> {
  const counts: PurgeResult = { requests: 0, actions: 0, changes: 0, activities: 0, attachments: 0 };
  if (!store.purge) return counts;
  const expiredAt = new Date();
  for (const kind of KINDS) {
    for (;;) {
      const deleted = await store.purge({ kind, expiredAt, ...(before ? { before } : {}), limit: batchSize });
      counts[kind] += deleted;
      if (deleted > 0) onBatch?.(kind, deleted);
      // Until a batch finds nothing: one cut short by another purge running at once does not end this one early.
      if (deleted === 0) break;
    }
  }
  if (store.purgeAttachments) {
    for (;;) {
      const deleted = await store.purgeAttachments({ expiredAt, ...(before ? { before } : {}), limit: batchSize });
      counts.attachments += deleted;
      if (deleted === 0) break;
    }
  }
  return counts;
}
