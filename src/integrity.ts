import { IntegrityChain, linkedSeqs } from './build/integrity/chain.js';
import type { ResolvedKey } from './build/integrity/checkpoint-keys.js';
import { AnchorQueue } from './build/integrity/anchor-queue.js';
import { Checkpointer, rangesOf } from './build/integrity/checkpointer.js';
import type { ChainHead, CheckpointDocument, IntegrityLink, RequestAppend, StoreBatch } from './shared/document.js';
import { ActionLogAnchorTimeoutError, ActionLogError, ActionLogStoreError } from './shared/errors.js';
import { finishesWithin } from './shared/deadline.js';
import type { Store } from './stores/store.js';

export interface SealOptions {
  key: ResolvedKey;
  checkpointEvery: number;
  checkpointIntervalMs: number;
  anchor?: (checkpoint: CheckpointDocument) => unknown;
  anchorTimeoutMs: number;
}

/**
 * Tamper evidence of one logger: seals each batch in its writer's chain, and stores a signed checkpoint every
 * `checkpointEvery` stored entries, `checkpointIntervalMs` after the first entry none covers yet, after a purge and
 * at close. Checkpoints are written one at a time, in order.
 */
export class TrailSeal {
  readonly chain = new IntegrityChain();
  private readonly checkpointer: Checkpointer;
  private readonly anchors: AnchorQueue | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly options: SealOptions,
    private readonly report: (error: Error) => void,
  ) {
    this.checkpointer = new Checkpointer(this.chain, options.key);
    this.anchors = options.anchor && new AnchorQueue(options.anchor, report);
  }

  /** Links the documents of a batch; returns the sequences it sealed, for `stored` or `lost`. */
  seal(batch: StoreBatch, appends: RequestAppend[]): number[] {
    return this.chain.seal(batch, appends);
  }

  /** The sequences of this writer's links among these documents and appends. */
  seqsOf(documents: Iterable<{ integrity?: Partial<IntegrityLink> | null }>): number[] {
    return linkedSeqs(this.chain.id, documents);
  }

  /** These links are stored: a checkpoint when enough waits, else one on a timer. */
  stored(seqs: Iterable<number>): void {
    this.chain.confirm(seqs);
    this.checkpointSoon();
  }

  /** These links will never be stored (the writer gave up on them, and reported it): the next checkpoint says so. */
  lost(seqs: Iterable<number>): void {
    this.chain.lose(seqs);
    this.checkpointSoon();
  }

  /**
   * `lost` of these documents' links. Links of other chains are recorded too, so only from documents this writer
   * vouches for: those it sealed, and those of an adopted spool's lines whose MAC holds.
   */
  lostDocuments(documents: Iterable<{ integrity?: Partial<IntegrityLink> | null }>): void {
    const own: number[] = [];
    const foreign: ChainHead[] = [];
    for (const { integrity: link } of documents) {
      if (link?.chain === undefined || link.seq === undefined) continue;
      if (link.chain === this.chain.id) own.push(link.seq);
      else if (link.hash !== undefined) foreign.push({ chain: link.chain, seq: link.seq, hash: link.hash });
    }
    this.chain.loseForeign(foreign);
    this.lost(own);
  }

  /** Links of other writers' chains are stored (see `IntegrityChain.confirmForeign`). */
  storedForeign(heads: Iterable<ChainHead>): void {
    this.chain.confirmForeign(heads);
    this.checkpointSoon();
  }

  private checkpointSoon(): void {
    // Held back for a link still waiting, a checkpoint now would take no more than the last one (the timer tries).
    if (this.chain.unCheckpointed >= this.options.checkpointEvery && !this.chain.heldBack) void this.checkpoint();
    else if (this.chain.unCheckpointed > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        void this.checkpoint();
      }, this.options.checkpointIntervalMs).unref();
    }
  }

  /**
   * Stores a checkpoint of what is stored and not yet covered, then anchors it (failures reported, never thrown,
   * unless `strict`: then an anchor that takes longer than `anchorTimeoutMs` throws too, and one already overdue
   * throws before anything is stored).
   */
  async checkpoint(options: { closed?: boolean; pruned?: IntegrityLink[]; archived?: boolean } = {}, strict = false): Promise<void> {
    const operation = options.archived ? 'archive' : 'purge';
    // A purge or an archive retried while the anchor still hangs would record the same batch again, and wait again.
    const overdue = strict ? this.anchors?.overdue(this.options.anchorTimeoutMs) : undefined;
    if (overdue !== undefined) throw new ActionLogAnchorTimeoutError(operation, overdue, this.options.anchorTimeoutMs, { recorded: false });
    clearTimeout(this.timer);
    this.timer = undefined;
    const ranges = options.pruned ? rangesOf(options.pruned) : undefined;
    const pruned = options.archived ? ranges?.map((range) => ({ ...range, archived: true as const })) : ranges;
    const run = this.queue.then(() =>
      this.checkpointer.send(
        (c) => this.write(c),
        (c) => this.anchors?.add(c),
        { closed: options.closed ?? false, ...(pruned ? { pruned } : {}) },
      ),
    );
    this.queue = run.catch(() => undefined);
    let made: CheckpointDocument | undefined;
    try {
      made = await run;
    } catch (error) {
      const failure = new ActionLogStoreError('Could not store an integrity checkpoint; the next one carries it', 0, { cause: error });
      if (strict) throw failure;
      this.report(failure);
    }
    // Anchored apart from the checkpoints' writes: an anchor that hangs never holds them back.
    const anchored = strict ? await this.anchorWithin(operation, made?.number) : ((await this.anchors?.copy()) ?? true);
    if (strict && !anchored) throw new ActionLogError('Could not anchor the integrity checkpoint (see the error reported before)');
  }

  /**
   * Anchors what waits for a purge or an archive, which deletes nothing before: an anchor that has not returned by
   * `anchorTimeoutMs` throws, naming the checkpoint that records the batch, or an application whose anchor hangs
   * would never see its purge end.
   */
  private async anchorWithin(operation: 'purge' | 'archive', checkpoint: number | undefined): Promise<boolean> {
    const anchors = this.anchors;
    if (!anchors) return true;
    const copying = anchors.copy();
    // The copy under way as the wait begins: if it still is at the deadline, it was waited for that long.
    const handOff = anchors.underWay;
    if (!(await finishesWithin(copying, this.options.anchorTimeoutMs))) {
      anchors.givenUp(handOff);
      const head = anchors.waitingFor;
      const behind = head !== undefined && checkpoint !== undefined && head < checkpoint ? head : undefined;
      throw new ActionLogAnchorTimeoutError(operation, checkpoint, this.options.anchorTimeoutMs, { behind });
    }
    return copying;
  }

  /**
   * The final checkpoint: nothing follows it in this writer's chain. Not said while a link waits for its write (a
   * strict write under way), or verify would take it for an insertion past the end.
   */
  close(): Promise<void> {
    return this.checkpoint({ closed: !this.chain.waiting });
  }

  private async write(checkpoint: CheckpointDocument): Promise<void> {
    if (!this.store.writeCheckpoint) throw new ActionLogStoreError('the store has no writeCheckpoint()', 0);
    await this.store.writeCheckpoint(checkpoint);
  }
}
