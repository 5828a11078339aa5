import type { Writable } from 'node:stream';
import { z } from 'zod';
import type { RequestIntegrity } from '../shared/document.js';
import { ActionLogConfigError, ActionLogStoreError, ActionLogValidationError } from '../shared/errors.js';
import { fromZodIssues } from '../shared/zod-issues.js';
import { batchedRemovalFields, KINDS, linksOf, type PurgeCounts, recordBatch, type RecordPruned } from './purge.js';
import type { Entry, EntryKind, Store, StoreBatch } from './store.js';
import { emptyBatch } from '../shared/batch-units.js';

/** Options of `logger.archive`. */
export interface ArchiveOptions {
  /** Also archive entries older than this (a `Date` or an ISO 8601 string); expired entries always are. */
  before?: Date | string;
  /** Where entries go: a writable stream (one JSON line per entry) or another store. */
  to: Writable | Store;
  /** Entries copied, confirmed and then deleted per round; default 1000. */
  batchSize?: number;
  /** Called after each batch with its kind and how many entries it moved: a progress report. */
  onBatch?: (kind: EntryKind, count: number) => void;
}

const BATCH_KEY = { requests: 'requests', actions: 'actionLogs', changes: 'modelLogs', activities: 'activities' } as const;

/** Whether `to` is a store rather than a stream. */
export const isStore = (to: unknown): to is Store =>
  typeof to === 'object' && to !== null && typeof (to as Store).write === 'function' && typeof (to as Store).query === 'function';
const isWritable = (to: unknown): to is Writable =>
  typeof to === 'object' && to !== null && typeof (to as Writable).write === 'function' && typeof (to as Writable).once === 'function';

const archiveSchema = z.strictObject({
  ...batchedRemovalFields,
  to: z.custom<Writable | Store>((to) => isStore(to) || isWritable(to), { error: 'must be a writable stream or a Store' }),
});

export type ArchivePlan = z.output<typeof archiveSchema>;

/** Checks the options of an archive, and that the source can delete what it copied, before anything moves. */
export function planArchive(store: Store, options: ArchiveOptions | undefined): ArchivePlan {
  const parsed = archiveSchema.safeParse(options ?? {});
  if (!parsed.success) throw new ActionLogValidationError(fromZodIssues(parsed.error.issues, archiveSchema), 'archive options');
  if (!store.remove) {
    throw new ActionLogConfigError([{ path: 'store', message: 'has no remove(): this store cannot archive entries' }], 'archive');
  }
  if (parsed.data.to === store)
    throw new ActionLogValidationError([{ path: 'to', message: "is the logger's own store" }], 'archive options');
  return parsed.data;
}

/**
 * Moves expired entries (and with `before`, older ones) of every kind to `to`, a batch at a time: the oldest
 * batch is read (expired ones included), copied, confirmed (a store's write resolved; a stream's write callback
 * called: the data left for its destination), and only then deleted from the source by id. A run killed midway
 * leaves a batch at most in both places: a store refuses it the second time (documents keep their `_id` and
 * `uid`), a stream gets it again with the same `kind` and `_id` (at least once: a reader keeps the first line
 * of each pair). With `record` (tamper evidence), the links of each batch are recorded once copied, before it is
 * deleted: an anchor timeout there leaves that batch in both places, as a kill does.
 */
export async function archiveEntries(
  store: Store,
  { before, to, batchSize, onBatch }: ArchivePlan,
  record?: RecordPruned,
): Promise<PurgeCounts> {
  const remove = store.remove?.bind(store);
  if (!remove) return { requests: 0, actions: 0, changes: 0, activities: 0 };
  const expiredAt = new Date();
  const counts: PurgeCounts = { requests: 0, actions: 0, changes: 0, activities: 0 };
  const purgeable = { expiredAt, ...(before ? { before } : {}) };
  for (const kind of KINDS) {
    let stalled = 0;
    for (;;) {
      const page = await store.query({
        kind,
        filter: { purgeable, include_inactive: true },
        by: 'time',
        order: 'asc',
        limit: batchSize,
      });
      if (page.length === 0) break;
      const entries = page.map((stored) => stored.entry);
      // Links first: `batchOf` hands the entries to the other store, which owns them from then on.
      const links = record ? linksOf(entries) : [];
      await (isStore(to) ? to.write(batchOf(kind, entries)) : writeLines(to, kind, entries));
      if (record) await recordBatch(record, links, counts);
      const removed = await remove(
        kind,
        page.map((stored) => stored.position.id),
      );
      // Nothing deleted of a batch found a moment ago: a purge running at once took it (the next round finds
      // what is left), or the store cannot delete it, which a second such round shows.
      stalled = removed === 0 ? stalled + 1 : 0;
      if (stalled > 1) throw new ActionLogStoreError(`archive: ${kind} copied but not deleted from the source`, 0);
      counts[kind] += removed;
      if (removed > 0) onBatch?.(kind, removed);
    }
  }
  return counts;
}

/**
 * The entries as a batch for the archive store, without `expires_at`: the archive is where they are kept. A sealed
 * entry keeps the date in its link, where `verify` finds it for the hash.
 */
function batchOf(kind: EntryKind, entries: Entry[]): StoreBatch {
  const batch = emptyBatch();
  for (const entry of entries) {
    const sealed = entry as { expires_at?: Date; integrity?: RequestIntegrity };
    if (sealed.expires_at !== undefined && sealed.integrity?.hash !== undefined)
      sealed.integrity = { ...sealed.integrity, expires_at: sealed.expires_at };
    delete sealed.expires_at;
  }
  (batch[BATCH_KEY[kind]] as Entry[]).push(...entries);
  return batch;
}

/** One JSON line per entry, `{ kind, _id, entry }`; resolves once the stream has taken the last one. */
function writeLines(to: Writable, kind: EntryKind, entries: Entry[]): Promise<void> {
  const text = entries.map((entry) => `${JSON.stringify({ kind, _id: String((entry as { _id?: unknown })._id), entry })}\n`).join('');
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      reject(error);
    };
    to.once('error', onError);
    to.write(text, (error) => {
      to.off('error', onError);
      if (error) reject(error);
      else resolve();
    });
  });
}
