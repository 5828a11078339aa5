import type { Command, OptionValues } from 'commander';
import type { ActionLogger } from '../../logger.js';
import type { EntryKind } from '../../stores/store.js';
import type { PurgeCounts } from '../../stores/purge.js';
import { estimateEntries } from './entry-count.js';

const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];

/** `--before` and `--batch-size`, shared by purge and archive (as the logger's options are). */
export function addRemovalOptions(command: Command): void {
  command
    .option('--before <date>', 'also entries older than this (ISO 8601); without it, only expired entries')
    .option('--batch-size <n>', 'entries per round trip, each its own transaction (default 1000)')
    .option('--json', 'print the counts as JSON');
}

/** The logger's `before` and `batchSize` of the flags; the logger checks them and names a bad one. */
export function removalOptions(options: OptionValues): { before?: string; batchSize?: number } {
  const size = options.batchSize as string | undefined;
  return {
    ...(options.before !== undefined ? { before: options.before as string } : {}),
    // Not a number stays as typed, for the logger to refuse it by name.
    ...(size !== undefined ? { batchSize: (/^-?\d+$/.test(size) ? Number(size) : size) as number } : {}),
  };
}

/** About how many entries a purge or archive with `before` takes, for the progress bar; unknown without `before`. */
export async function estimateRemoval(logger: ActionLogger, before: string | undefined): Promise<number | undefined> {
  return before === undefined ? undefined : estimateEntries(logger, { to: before });
}

/** The counts per kind and their total (of entries), then the attachments a purge deleted, as aligned lines or JSON. */
export function formatCounts(counts: PurgeCounts & { attachments?: number }, json: boolean): string {
  const total = KINDS.reduce((sum, kind) => sum + counts[kind], 0);
  if (json) return `${JSON.stringify({ ...counts, total })}\n`;
  const lines: Array<readonly [string, number]> = [...KINDS.map((kind) => [kind, counts[kind]] as const), ['total', total]];
  if (counts.attachments !== undefined) lines.push(['attachments', counts.attachments]);
  return lines.map(([name, n]) => `${name.padEnd(11)}${String(n).padStart(10)}\n`).join('');
}
