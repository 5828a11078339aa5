import { appendFileSync } from 'node:fs';
import type { Command, OptionValues } from 'commander';
import { keyIdOf, resolveKey, type SigningKey } from '../../build/integrity/checkpoint-keys.js';
import type { ActionLogger } from '../../logger.js';
import type { Connection, LoggerOverrides } from './connection.js';
import { usageError } from './exit-codes.js';
import { hmacKeyFromEnv, signingKeyFile } from './verify-inputs.js';
import type { EntryKind, Store } from '../../stores/store.js';
import type { CheckpointDocument } from '../../shared/document.js';
import { checkpointsOf } from '../../read/verify/checkpoints.js';
import type { PurgeCounts } from '../../stores/purge.js';
import { estimateEntries } from './entry-count.js';

const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];

/** `--before` and `--batch-size`, shared by purge and archive (as the logger's options are), and how they sign. */
export function addRemovalOptions(command: Command): void {
  command
    .option('--before <date>', 'also entries older than this (ISO 8601); without it, only expired entries')
    .option('--batch-size <n>', 'entries per round trip, each its own transaction (default 1000)')
    .option('--signing-key <file>', "PEM file of the Ed25519 private key that signs the trail's checkpoints", signingKeyFile)
    .option('--hmac-secret-env <name>', "environment variable holding the HMAC secret that signs the trail's checkpoints", hmacKeyFromEnv)
    .option('--unrecorded', 'on a trail with checkpoints, delete without a signed record (verify then reports deletions)')
    .option('--new-key', 'the signing key was rotated in and signs no checkpoint of the trail yet')
    .option('--anchor-to <file>', 'append the checkpoint that records what goes to this file of anchored checkpoints (JSON lines)')
    .option('--json', 'print the counts as JSON');
}

/** The key of `--signing-key` or `--hmac-secret-env`, and the flag that gave it. */
const signingKeyOf = (options: OptionValues) => ({
  key: (options.signingKey ?? options.hmacSecretEnv) as SigningKey | undefined,
  flag: options.signingKey !== undefined ? '--signing-key' : '--hmac-secret-env',
});

/** With a signing key, the logger records what it deletes in a checkpoint it signs (and appends it to `--anchor-to`). */
export function removalLoggerOptions(options: OptionValues): LoggerOverrides {
  const { key } = signingKeyOf(options);
  if (options.signingKey !== undefined && options.hmacSecretEnv !== undefined)
    throw usageError('--hmac-secret-env', 'give one key: --signing-key or --hmac-secret-env, not both');
  const anchorTo = options.anchorTo as string | undefined;
  if (anchorTo !== undefined && key === undefined) throw usageError('--anchor-to', 'goes with --signing-key or --hmac-secret-env');
  if (key === undefined) return {};
  if (anchorTo === undefined) return { integrity: { key } };
  // One JSON line per checkpoint, as `verify --anchors` reads them.
  const anchor = (checkpoint: CheckpointDocument) => {
    appendFileSync(anchorTo, `${JSON.stringify(checkpoint)}\n`);
  };
  return { integrity: { key, anchor } };
}

/**
 * A trail with checkpoints is sealed: deleting from it without recording what goes, or recording it under a key
 * that signs none of its checkpoints (a wrong file), would read as tampering to `verify`. Refused, unless
 * `--unrecorded` (no record) or `--new-key` (a key rotated in, which signs no checkpoint yet) says the user knows.
 */
export async function checkRecorded(options: OptionValues, { store }: Connection): Promise<void> {
  const { key, flag } = signingKeyOf(options);
  if (key === undefined) {
    if (options.unrecorded === true || (await signersOf(store, () => true)).size === 0) return;
    throw usageError(
      '',
      'the trail has signed checkpoints: give the key that signs them (--signing-key FILE or --hmac-secret-env NAME) so that verify tells what this deletes from tampering, or --unrecorded',
    );
  }
  if (options.newKey === true) return;
  const { id } = resolveKey(key, 'sign');
  const signers = await signersOf(store, (found) => found.has(id));
  if (signers.size > 0 && !signers.has(id))
    throw usageError(
      flag,
      `signs none of the trail's checkpoints (key ${id}; they are signed by ${[...signers].join(', ')}): give their key, or --new-key for one rotated in`,
    );
}

/** The keys that signed the trail's checkpoints, read until `enough` of them are found. */
async function signersOf(store: Store, enough: (found: Set<string>) => boolean): Promise<Set<string>> {
  const found = new Set<string>();
  for await (const checkpoint of checkpointsOf(store)) {
    const signer = keyIdOf(checkpoint);
    if (signer !== undefined) found.add(signer);
    if (enough(found)) break;
  }
  return found;
}

/** The logger's `before` and `batchSize` of the flags; the logger checks them and names a bad one. */
export function removalOptions(options: OptionValues): { before?: string; batchSize?: number } {
  const size = options.batchSize as string | undefined;
  return {
    ...(options.before !== undefined ? { before: options.before as string } : {}),
    // Not a number stays as typed, for the logger to refuse it by name.
    ...(size !== undefined ? { batchSize: (/^-?\d+(\.\d+)?$/.test(size) ? Number(size) : size) as number } : {}),
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
