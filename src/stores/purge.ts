import { z } from 'zod';
import { comparableDate } from '../shared/dates.js';
import { ActionLogAnchorTimeoutError, ActionLogConfigError, ActionLogValidationError } from '../shared/errors.js';
import { fromZodIssues } from '../shared/zod-issues.js';
import type { IntegrityLink, RequestIntegrity } from '../shared/document.js';
import type { Entry, EntryKind, Store } from './store.js';

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
  before: comparableDate.optional(),
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

/**
 * Records the links of entries about to be deleted on purpose (a signed "pruned" checkpoint), so that `verify` tells
 * them from a deletion. Called before each batch is deleted; a batch whose record fails is not deleted.
 */
export type RecordPruned = (links: IntegrityLink[]) => Promise<void>;

/**
 * Records a batch's links (see `RecordPruned`); an anchor timeout stops the run with what it removed before, which
 * the run's result would have said.
 */
export async function recordBatch(record: RecordPruned, links: IntegrityLink[], removedBefore: PurgeCounts): Promise<void> {
  try {
    await record(links);
  } catch (error) {
    throw error instanceof ActionLogAnchorTimeoutError ? error.withCounts(removedBefore) : error;
  }
}

/** The chain links an entry carries: its own, and a request document's appends'. */
export function linksOf(entries: readonly Entry[]): IntegrityLink[] {
  const links: IntegrityLink[] = [];
  for (const entry of entries) {
    const integrity = (entry as { integrity?: RequestIntegrity }).integrity;
    if (!integrity) continue;
    if (integrity.chain !== undefined && integrity.seq !== undefined) links.push(integrity as IntegrityLink);
    for (const append of integrity.appends ?? []) links.push(append);
  }
  return links;
}

/** Checks the options of a purge, and that the store can do it, before anything is deleted. */
export function planPurge(store: Store, options: PurgeOptions | undefined, recorded = false): PurgePlan {
  const parsed = purgeSchema.safeParse(options ?? {});
  if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, purgeSchema), 'purge options');
  if (recorded && !store.remove) {
    throw new ActionLogConfigError(
      [{ path: 'store', message: 'has no remove(): with integrity on, a purge deletes the entries it recorded' }],
      'purge',
    );
  }
  if (!recorded && !store.purge) {
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
export async function purgeEntries(store: Store, { before, batchSize, onBatch }: PurgePlan, record?: RecordPruned): Promise<PurgeResult> {
  const counts: PurgeResult = { requests: 0, actions: 0, changes: 0, activities: 0, attachments: 0 };
  const expiredAt = new Date();
  if (record) Object.assign(counts, await purgeRecorded(store, { before, batchSize, onBatch }, record));
  else if (store.purge) {
    for (const kind of KINDS) {
      for (;;) {
        const deleted = await store.purge({ kind, expiredAt, ...(before ? { before } : {}), limit: batchSize });
        counts[kind] += deleted;
        if (deleted > 0) onBatch?.(kind, deleted);
        // Until a batch finds nothing: one cut short by another purge running at once does not end this one early.
        if (deleted === 0) break;
      }
    }
  } else return counts;
  if (store.purgeAttachments) {
    for (;;) {
      const deleted = await store.purgeAttachments({ expiredAt, ...(before ? { before } : {}), limit: batchSize });
      counts.attachments += deleted;
      if (deleted === 0) break;
    }
  }
  return counts;
}

/**
 * A purge under tamper evidence: each batch is read first, its links recorded (`record`), then exactly that batch
 * deleted by id, as `archive` does.
 */
async function purgeRecorded(store: Store, { before, batchSize, onBatch }: PurgePlan, record: RecordPruned): Promise<PurgeCounts> {
  const counts: PurgeCounts = { requests: 0, actions: 0, changes: 0, activities: 0 };
  const remove = store.remove?.bind(store);
  if (!remove) return counts;
  const purgeable = { expiredAt: new Date(), ...(before ? { before } : {}) };
  for (const kind of KINDS) {
    for (let stalled = 0; stalled < 2;) {
      const page = await store.query({ kind, filter: { purgeable, include_inactive: true }, by: 'time', order: 'asc', limit: batchSize });
      if (page.length === 0) break;
      await recordBatch(record, linksOf(page.map((stored) => stored.entry)), counts);
      const removed = await remove(
        kind,
        page.map((stored) => stored.position.id),
      );
      // Nothing deleted of a batch found a moment ago: another purge took it; twice, and this one stops.
      stalled = removed === 0 ? stalled + 1 : 0;
      counts[kind] += removed;
      if (removed > 0) onBatch?.(kind, removed);
    }
  }
  return counts;
}
