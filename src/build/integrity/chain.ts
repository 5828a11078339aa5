import type {
  ActionEntry,
  AppendLink,
  ChainHead,
  IntegrityLink,
  ModelLog,
  RequestAppend,
  RequestDocument,
  StoreBatch,
} from '../../shared/document.js';
import { GENESIS, linkHash } from './canonical.js';
import { newUuid } from '../../shared/uuid.js';
import { documentsOf } from '../../shared/batch-units.js';

/** How long a link waiting for its write holds back the checkpointing of later ones (see `takeStored`). */
const HOLD_BACK_MS = 60_000;

/** Top-level fields a kind's hash leaves out: an action's `is_active` changes on purpose (`deactivate`, itself recorded). */
export const OMITTED = { actions: ['is_active'] as const, others: [] as const };

/** What an append's link hashes: the events it added to its document, and where. */
export function appendBody(
  uid: string,
  link: Pick<AppendLink, 'append_id' | 'model_logs_spilled' | 'actions_spilled'>,
  modelLogs: ModelLog[],
  actions: ActionEntry[],
) {
  return {
    uid,
    append_id: link.append_id,
    model_logs: modelLogs,
    actions,
    model_logs_spilled: link.model_logs_spilled,
    actions_spilled: link.actions_spilled,
  };
}

/**
 * A request document as its writer sealed it: what it reads back as, less the tails its late appends added (each
 * link says how many) and their spilled counts.
 */
export function sealedRequest(doc: RequestDocument): RequestDocument {
  const appends = doc.integrity?.appends ?? [];
  if (appends.length === 0) return doc;
  const details = { ...doc.details };
  const modelLogs = appends.reduce((n, a) => n + a.model_logs, 0);
  const actions = appends.reduce((n, a) => n + a.actions, 0);
  details.model_logs = details.model_logs.slice(0, Math.max(0, details.model_logs.length - modelLogs));
  details.actions = details.actions.slice(0, Math.max(0, details.actions.length - actions));
  const spilled = (key: 'model_logs_spilled' | 'actions_spilled') => {
    const left = (details[key] ?? 0) - appends.reduce((n, a) => n + a[key], 0);
    return left > 0 ? left : undefined;
  };
  const modelLogsSpilled = spilled('model_logs_spilled');
  const actionsSpilled = spilled('actions_spilled');
  delete details.model_logs_spilled;
  delete details.actions_spilled;
  if (modelLogsSpilled !== undefined) details.model_logs_spilled = modelLogsSpilled;
  if (actionsSpilled !== undefined) details.actions_spilled = actionsSpilled;
  return { ...doc, details };
}

/** The events each append of a document added, in the order they were stored, with their links. */
export function appendedParts(doc: RequestDocument): Array<{ link: AppendLink; body: ReturnType<typeof appendBody> }> {
  const appends = doc.integrity?.appends ?? [];
  let logAt = doc.details.model_logs.length - appends.reduce((n, a) => n + a.model_logs, 0);
  let actionAt = doc.details.actions.length - appends.reduce((n, a) => n + a.actions, 0);
  return appends.map((link) => {
    const logs = doc.details.model_logs.slice(logAt, logAt + link.model_logs);
    const actions = doc.details.actions.slice(actionAt, actionAt + link.actions);
    logAt += link.model_logs;
    actionAt += link.actions;
    return { link, body: appendBody(doc.uid, link, logs, actions) };
  });
}

/** The sequences of `chain`'s links among these documents and appends. */
export function linkedSeqs(chain: string, documents: Iterable<{ integrity?: Partial<IntegrityLink> | null }>): number[] {
  const seqs: number[] = [];
  for (const doc of documents) if (doc.integrity?.chain === chain && doc.integrity.seq !== undefined) seqs.push(doc.integrity.seq);
  return seqs;
}

/** The newest link of each chain among the documents and appends of a batch (sealed by whichever writer). */
export function newestLinks(batch: StoreBatch, appends: readonly RequestAppend[]): ChainHead[] {
  const newest = new Map<string, ChainHead>();
  const note = (link: Partial<IntegrityLink> | undefined) => {
    if (link?.chain === undefined || link.seq === undefined || link.hash === undefined) return;
    const known = newest.get(link.chain);
    if (!known || known.seq < link.seq) newest.set(link.chain, { chain: link.chain, seq: link.seq, hash: link.hash });
  };
  for (const doc of documentsOf(batch, appends)) note(doc.integrity);
  return [...newest.values()];
}

/**
 * One writer's chain: every document it stores gets the next link (`chain`, `seq`, `prev`, `hash`), without any
 * lock shared with other processes. Sealing runs in the writer's turn, once per batch; a retry resends the same links.
 */
export class IntegrityChain {
  /** Random per logger: two processes (or two loggers) never share a chain. */
  readonly id = newUuid().replace(/-/g, '');
  private seq = 0;
  private prev = GENESIS;
  /** Sealed, not yet known to be stored or lost, by sequence, with when (ms). */
  private readonly sealed = new Map<number, { head: ChainHead; at: number }>();
  /** Stored since the last checkpoint. */
  private stored: ChainHead[] = [];
  /** See `heldBack`. */
  private heldBehind: number | undefined;
  /** Sealed and never stored since the last checkpoint (the writer gave up on them). */
  private lost: ChainHead[] = [];
  /** The newest stored link of each other writer's chain this one stored for it (a spool it adopted). */
  private readonly foreign = new Map<string, ChainHead>();

  /**
   * Links every document of a batch and every append, in that order; returns the sequences sealed. All or nothing:
   * when one cannot be hashed, it throws with the chain and the documents as they were (no sequence is skipped).
   */
  seal(batch: StoreBatch, appends: RequestAppend[]): number[] {
    // A model log or action is in its request document and in its own entry: its text is written once.
    const texts = new Map<object, string>();
    const made: Array<{ link: IntegrityLink; put: (link: IntegrityLink) => void }> = [];
    let prev = this.prev;
    const next = (body: object, omit: readonly string[], put: (link: IntegrityLink) => void) => {
      const hash = linkHash(body, prev, { omit, texts });
      made.push({ link: { chain: this.id, seq: this.seq + made.length + 1, prev, hash }, put });
      prev = hash;
    };
    for (const doc of batch.requests) next(doc, [], (link) => (doc.integrity = link));
    for (const doc of batch.actionLogs) next(doc, OMITTED.actions, (link) => (doc.integrity = link));
    for (const doc of batch.modelLogs) next(doc, [], (link) => (doc.integrity = link));
    for (const doc of batch.activities) next(doc, [], (link) => (doc.integrity = link));
    for (const append of appends) {
      const counts = {
        append_id: append.append_id,
        model_logs: append.model_logs.length,
        actions: append.actions.length,
        model_logs_spilled: append.model_logs_spilled,
        actions_spilled: append.actions_spilled,
      };
      next(appendBody(append.uid, counts, append.model_logs, append.actions), [], (link) => (append.integrity = { ...link, ...counts }));
    }
    const at = Date.now();
    for (const { link, put } of made) {
      put(link);
      this.sealed.set(link.seq, { head: { chain: this.id, seq: link.seq, hash: link.hash }, at });
    }
    this.seq += made.length;
    this.prev = prev;
    return made.map(({ link }) => link.seq);
  }

  /**
   * These links are stored (their writes resolved). By sequence, not through one: the strict path stores its
   * links at once, while links sealed before them may still wait in the queue. Sequences not waiting are ignored.
   */
  confirm(seqs: Iterable<number>): void {
    this.settle(seqs, this.stored);
  }

  /** These links were sealed and will never be stored: the next checkpoint records them as lost. */
  lose(seqs: Iterable<number>): void {
    this.settle(seqs, this.lost);
  }

  /**
   * Links of other writers' chains will never be stored, read back from a spool this process adopted whose lines'
   * MACs hold (a `drop-oldest`, a refusal): the next checkpoint records them as lost, as their writer, gone, never will.
   */
  loseForeign(heads: Iterable<ChainHead>): void {
    for (const head of heads) if (head.chain !== this.id) this.lost.push(head);
  }

  /** Moves the links waiting at these sequences to `into`, once. */
  private settle(seqs: Iterable<number>, into: ChainHead[]): void {
    for (const seq of seqs) {
      const waiting = this.sealed.get(seq);
      if (!waiting) continue;
      this.sealed.delete(seq);
      into.push(waiting.head);
    }
  }

  /**
   * Links of other writers' chains are stored, read back from a spool this process adopted whose lines' MACs hold:
   * the next checkpoint names their newest, which no checkpoint of their own writer, gone, ever will.
   */
  confirmForeign(heads: Iterable<ChainHead>): void {
    for (const head of heads) {
      if (head.chain === this.id) continue;
      const known = this.foreign.get(head.chain);
      if (!known || known.seq < head.seq) this.foreign.set(head.chain, head);
    }
  }

  /** The other chains' heads stored since the last checkpoint, taken. */
  takeForeign(): ChainHead[] {
    const heads = [...this.foreign.values()];
    this.foreign.clear();
    return heads;
  }

  /** The newest sequence sealed. */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Stored links since the last checkpoint, in sequence order, below the lowest link still waiting: the next
   * checkpoint's content. A checkpoint's Merkle root then covers a run of sequences (lost ones aside), as verify
   * recomputes it; a link stored before one below it (a strict write, beside the queue) waits for it. A link left
   * waiting for `HOLD_BACK_MS` (one no write will ever settle: a spool's `drop-oldest`) holds nothing back.
   */
  takeStored(now = Date.now()): ChainHead[] {
    // Sealed in sequence order, so the map's first entry is the lowest link waiting (looked at alone: after a long
    // outage, the map holds every link the queue or the spool still owes).
    const first = this.sealed.values().next();
    const lowest = !first.done && now - first.value.at < HOLD_BACK_MS ? first.value.head.seq : undefined;
    this.stored.sort((a, b) => a.seq - b.seq);
    const past = lowest === undefined ? -1 : this.stored.findIndex((head) => head.seq > lowest);
    this.heldBehind = past === -1 ? undefined : lowest;
    return past === -1 ? this.stored.splice(0) : this.stored.splice(0, past);
  }

  /** The link the last `takeStored` held stored ones back for, while it still waits: no use trying again before. */
  get heldBack(): boolean {
    return this.heldBehind !== undefined && this.sealed.has(this.heldBehind);
  }

  /** Whether links sealed wait still for their write (a chain is not said to end before them). */
  get waiting(): boolean {
    return this.sealed.size > 0;
  }

  /** Lost links since the last checkpoint, taken, by chain and in sequence order. */
  takeLost(): ChainHead[] {
    return this.lost.splice(0).sort((a, b) => (a.chain === b.chain ? a.seq - b.seq : a.chain < b.chain ? -1 : 1));
  }

  /** How many stored or lost links wait for a checkpoint (other chains' heads count one each). */
  get unCheckpointed(): number {
    return this.stored.length + this.lost.length + this.foreign.size;
  }
}
