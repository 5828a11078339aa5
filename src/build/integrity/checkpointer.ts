import type { ChainHead, CheckpointDocument, PrunedRange } from '../../shared/document.js';
import { GENESIS } from './canonical.js';
import type { IntegrityChain } from './chain.js';
import { type ResolvedKey, signCheckpoint } from './checkpoint-keys.js';
import { merkleRoot } from './merkle.js';

/** Makes a writer's signed checkpoints, each linked to the one before. */
export class Checkpointer {
  private number = 0;
  private prev = GENESIS;

  constructor(
    private readonly chain: IntegrityChain,
    private readonly key: ResolvedKey,
  ) {}

  /** A checkpoint of what the chain stored or lost since the last one (undefined when nothing, unless `closed` or `pruned`). */
  private next(options: { closed?: boolean; pruned?: PrunedRange[] } = {}): CheckpointDocument | undefined {
    const stored = this.chain.takeStored();
    const foreign = this.chain.takeForeign();
    const lost = lostRanges(this.chain.takeLost());
    const pruned = [...(options.pruned ?? []), ...lost];
    // A writer that sealed nothing has no chain to close.
    if (stored.length === 0 && foreign.length === 0 && pruned.length === 0 && (!options.closed || this.chain.lastSeq === 0))
      return undefined;
    // Its own chain's head first; the Merkle root and `from_seq` are of its own chain only.
    const heads: ChainHead[] = stored.length > 0 ? [stored[stored.length - 1] as ChainHead, ...foreign] : foreign;
    const number = ++this.number;
    const checkpoint = signCheckpoint(
      {
        uid: `${this.chain.id}:${number}`,
        chain: this.chain.id,
        number,
        at: new Date(),
        heads,
        merkle_root: merkleRoot(stored.map((s) => s.hash)),
        from_seq: stored[0]?.seq ?? null,
        pruned,
        closed: options.closed ?? false,
        prev: this.prev,
      },
      this.key,
    );
    this.prev = checkpoint.hash;
    return checkpoint;
  }

  /**
   * Makes the next checkpoint (see `next`) and stores it after any the store did not take before, in order: a
   * checkpoint is never lost to a failed write, and the chain of checkpoints has no hole. `stored` gets each.
   */
  async send(
    write: (checkpoint: CheckpointDocument) => Promise<void>,
    stored: (checkpoint: CheckpointDocument) => void,
    options: { closed?: boolean; pruned?: PrunedRange[] } = {},
  ): Promise<CheckpointDocument | undefined> {
    const made = this.next(options);
    if (made) this.unsent.push(made);
    while (this.unsent.length > 0) {
      const checkpoint = this.unsent[0] as CheckpointDocument;
      await write(checkpoint);
      this.unsent.shift();
      stored(checkpoint);
    }
    return made;
  }

  private readonly unsent: CheckpointDocument[] = [];
}

/** Lost links (in sequence order) as ranges, each with the hash of its last link: the `prev` of the link after it. */
function lostRanges(lost: readonly ChainHead[]): PrunedRange[] {
  return rangesOf(lost).map((range) => ({
    ...range,
    lost: true,
    hash: lost.find((head) => head.chain === range.chain && head.seq === range.to)?.hash ?? '',
  }));
}

/** Sequences as ranges per chain: `[3,4,5,9]` of one chain → `3-5`, `9-9`. */
export function rangesOf(links: ReadonlyArray<{ chain: string; seq: number }>): PrunedRange[] {
  const byChain = new Map<string, number[]>();
  for (const { chain, seq } of links) {
    const list = byChain.get(chain) ?? [];
    list.push(seq);
    byChain.set(chain, list);
  }
  const ranges: PrunedRange[] = [];
  for (const [chain, seqs] of byChain) {
    seqs.sort((a, b) => a - b);
    let from = seqs[0] ?? 0;
    let to = from;
    for (const seq of seqs.slice(1)) {
      if (seq === to + 1 || seq === to) to = seq;
      else {
        ranges.push({ chain, from, to });
        from = to = seq;
      }
    }
    ranges.push({ chain, from, to });
  }
  return ranges;
}
