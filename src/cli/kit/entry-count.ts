import type { ActionLogger } from '../../logger.js';
import type { EntryKind } from '../../stores/store.js';

const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];

/**
 * About how many entries of every kind lie in a time window, deactivated actions included, for a progress bar
 * (reads do not see expired entries, which purge, archive and verify take too: the bar grows when passed).
 * Undefined when the window is refused: the command itself checks it and names the flag.
 */
export async function estimateEntries(logger: ActionLogger, window: { from?: string; to?: string }): Promise<number | undefined> {
  try {
    const counts = await Promise.all(
      KINDS.map((kind) => logger.count({ kind, ...window, ...(kind === 'actions' ? { include_inactive: true } : {}) })),
    );
    return counts.reduce((a, b) => a + b, 0);
  } catch {
    return undefined;
  }
}
