import type { EntryKind } from '../../stores/store.js';

/** What verify found wrong (or notes) about one entry, sequence range or checkpoint. */
export type VerifyProblem =
  /** The entry's content does not match its hash. */
  | 'modified'
  /** Sequences of a chain missing between stored ones. */
  | 'deleted'
  /** An entry where none belongs: a second entry at a sequence, or past the end of a closed chain. */
  | 'inserted'
  /** An entry whose `prev` is not the hash of the entry before it: moved, or put in place of another. */
  | 'reordered'
  /** A checkpoint whose signature is bad or by an unknown key, or whose hash does not match its content. */
  | 'forged'
  /** The newest sequences of a chain, which a signed checkpoint covers, are missing. */
  | 'truncated'
  /** The store is behind an anchored checkpoint: it lacks one, or holds another under its name. */
  | 'rolled_back'
  /** Sequences missing because a purge or an archive deleted them (a signed checkpoint says so): not tampering. */
  | 'pruned'
  /**
   * Sequences never stored: the writer gave up on them (the store failed past the retries, or refused them) and
   * reported it then, and a signed checkpoint says so. Entries missing from the trail, not tampering.
   */
  | 'lost'
  /** An entry without a link, among linked ones. */
  | 'unsealed'
  /** Linked entries no signed checkpoint covers yet (written since the last one): checked, not proven. */
  | 'unconfirmed';

/** One finding, named by document id, chain and sequence. */
export interface VerifyFinding {
  problem: VerifyProblem;
  /** The kind of what is named, or `append` (a late append stored in a request document), or `checkpoint`. */
  kind: EntryKind | 'append' | 'checkpoint' | null;
  /** The store's id of the document (for an append, of its request document; for a checkpoint, its `uid`). */
  id: string | null;
  chain: string | null;
  /** The sequence, or the first of a range. */
  seq: number | null;
  /** The last sequence of a range (`deleted`, `truncated`, `pruned`, `lost`, `unconfirmed`). */
  to_seq?: number;
  message: string;
}

export type VerifyStatus = 'intact' | 'tampered' | 'unverifiable';

/** Counts of everything checked and found. */
export interface VerifySummary {
  /** Entries read. */
  entries: number;
  /** Links checked (entries and appends). */
  links: number;
  chains: number;
  checkpoints: number;
  /** Entries without a link written before the first linked one (a trail from before integrity was on). */
  legacy: number;
  counts: Record<VerifyProblem, number>;
}

/**
 * What `logger.verify` reports: `intact` (every link and checkpoint holds and covers the trail), `tampered` (see
 * `findings`), or `unverifiable` (no key to check signatures, no checkpoint, or links none covers yet).
 */
export interface VerifyReport {
  status: VerifyStatus;
  summary: VerifySummary;
  /** At most `maxFindings` (in the order found); `summary.counts` counts all of them. */
  findings: VerifyFinding[];
  /** Why the status is `unverifiable`, when it is. */
  unverifiable: string[];
}

/** Problems that are tampering; `pruned`, `lost`, `unconfirmed` are not. */
export const TAMPERING: ReadonlySet<VerifyProblem> = new Set([
  'modified',
  'deleted',
  'inserted',
  'reordered',
  'forged',
  'truncated',
  'rolled_back',
  'unsealed',
]);

/** Collects findings: all counted, the first `max` kept. */
export class Findings {
  readonly counts: Record<VerifyProblem, number> = {
    modified: 0,
    deleted: 0,
    inserted: 0,
    reordered: 0,
    forged: 0,
    truncated: 0,
    rolled_back: 0,
    pruned: 0,
    lost: 0,
    unsealed: 0,
    unconfirmed: 0,
  };
  readonly list: VerifyFinding[] = [];

  constructor(private readonly max: number) {}

  add(finding: VerifyFinding): void {
    const n = finding.to_seq !== undefined && finding.seq !== null ? finding.to_seq - finding.seq + 1 : 1;
    this.counts[finding.problem] += n;
    if (this.list.length < this.max) this.list.push(finding);
  }

  get tampered(): boolean {
    return [...TAMPERING].some((p) => this.counts[p] > 0);
  }
}
