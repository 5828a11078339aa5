import { GENESIS } from '../../build/integrity/canonical.js';
import { checkSeal, keyIdOf, type ResolvedKey, UNKNOWN_KEY } from '../../build/integrity/checkpoint-keys.js';
import type { CheckpointDocument, PrunedRange } from '../../shared/document.js';
import type { Store } from '../../stores/store.js';
import { coveredBy } from './chains.js';
import type { Findings, VerifyFinding } from './report.js';

/** What the signed checkpoints claim about one entry chain. */
export interface ChainClaims {
  /**
   * Signed heads of its own writer, by sequence, with the first sequence each one's Merkle root covers and when the
   * checkpoint was made (on the writer's clock, as the times of its entries).
   */
  heads: Array<{ seq: number; hash: string; from_seq: number | null; merkle_root: string | null; uid: string; at: Date }>;
  /** Heads other writers signed for it (a spool of its writer they adopted), by sequence: a hash each, no Merkle root. */
  vouched: Array<{ seq: number; hash: string; uid: string }>;
  /** The chain's writer closed at this sequence: nothing may follow. */
  closedAt?: number;
  pruned: PrunedRange[];
}

export interface TrustedCheckpoints {
  count: number;
  byChain: Map<string, ChainClaims>;
}

const PAGE = 500;

/** Every stored checkpoint, oldest first, read a page at a time. */
export async function* checkpointsOf(store: Store): AsyncGenerator<CheckpointDocument> {
  if (!store.checkpoints) return;
  for (let after: string | undefined; ;) {
    const page = await store.checkpoints({ limit: PAGE, ...(after === undefined ? {} : { after }) });
    for (const { checkpoint } of page) yield checkpoint;
    if (page.length < PAGE) return;
    after = page[page.length - 1]?.id;
  }
}

async function storedCheckpoints(store: Store): Promise<CheckpointDocument[]> {
  const out: CheckpointDocument[] = [];
  for await (const checkpoint of checkpointsOf(store)) out.push(checkpoint);
  return out;
}

/**
 * The checkpoints whose seals hold, checked against each other (each writer's are numbered and linked) and against
 * the anchored copies; what does not hold is reported.
 */
export async function trustedCheckpoints(
  store: Store,
  keys: ReadonlyMap<string, ResolvedKey>,
  anchors: readonly CheckpointDocument[],
  findings: Findings,
): Promise<TrustedCheckpoints> {
  const stored = await storedCheckpoints(store);
  const trusted = new Map<string, CheckpointDocument>();
  const wrongKey = noneNamesAKeyGiven([...stored, ...anchors], keys);
  for (const checkpoint of stored) {
    const problem = checkSeal(checkpoint, keys);
    const hint = wrongKey && problem?.startsWith(UNKNOWN_KEY) ? WRONG_KEY_HINT : '';
    if (problem) findings.add(forged(checkpoint, `checkpoint ${checkpoint.number}: ${problem}${hint}`));
    else trusted.set(checkpoint.uid, checkpoint);
  }
  for (const anchor of anchors) {
    const problem = checkSeal(anchor, keys);
    if (problem) {
      findings.add(forged(anchor, `anchored checkpoint ${anchor.number}: ${problem}`));
      continue;
    }
    const here = trusted.get(anchor.uid);
    if (!here || here.hash !== anchor.hash) {
      const message = here ? 'the store holds another checkpoint under its name' : 'the store lacks this anchored checkpoint';
      findings.add({
        problem: 'rolled_back',
        kind: 'checkpoint',
        id: anchor.uid,
        chain: anchor.chain,
        seq: anchor.heads[0]?.seq ?? null,
        message,
      });
      trusted.set(anchor.uid, anchor);
    }
  }
  checkLinks([...trusted.values()], findings);
  return { count: stored.length, byChain: claimsOf(trusted.values()) };
}

/** Each writer's checkpoints are numbered 1, 2, 3... and each names the hash of the one before. */
function checkLinks(checkpoints: CheckpointDocument[], findings: Findings): void {
  const byWriter = new Map<string, CheckpointDocument[]>();
  for (const c of checkpoints) byWriter.set(c.chain, [...(byWriter.get(c.chain) ?? []), c]);
  for (const [chain, list] of byWriter) {
    list.sort((a, b) => a.number - b.number);
    let prev: CheckpointDocument | undefined;
    for (const c of list) {
      const expected = prev === undefined ? (c.number === 1 ? GENESIS : undefined) : c.number === prev.number + 1 ? prev.hash : undefined;
      if (expected === undefined) {
        const from = (prev?.number ?? 0) + 1;
        findings.add({
          problem: 'deleted',
          kind: 'checkpoint',
          id: c.uid,
          chain,
          seq: null,
          message: `checkpoints ${from}${c.number - 1 > from ? `-${c.number - 1}` : ''} of this writer are missing`,
        });
      } else if (c.prev !== expected) {
        findings.add({
          problem: 'reordered',
          kind: 'checkpoint',
          id: c.uid,
          chain,
          seq: null,
          message: `checkpoint ${c.number} does not follow checkpoint ${c.number - 1}`,
        });
      }
      prev = c;
    }
  }
}

function claimsOf(checkpoints: Iterable<CheckpointDocument>): Map<string, ChainClaims> {
  const byChain = new Map<string, ChainClaims>();
  const lostForOthers: PrunedRange[] = [];
  const of = (chain: string) => {
    let claims = byChain.get(chain);
    if (!claims) byChain.set(chain, (claims = { heads: [], vouched: [], pruned: [] }));
    return claims;
  };
  for (const c of checkpoints) {
    for (const head of c.heads) {
      // An anchored copy read back from JSON holds its time as text.
      const at = new Date(c.at);
      if (head.chain === c.chain) of(head.chain).heads.push({ ...head, from_seq: c.from_seq, merkle_root: c.merkle_root, uid: c.uid, at });
      else of(head.chain).vouched.push({ seq: head.seq, hash: head.hash, uid: c.uid });
    }
    for (const range of c.pruned) {
      if (range.lost && range.chain !== c.chain) lostForOthers.push(range);
      else of(range.chain).pruned.push(range);
    }
    if (c.closed) of(c.chain).closedAt = 0;
  }
  for (const claims of byChain.values()) {
    claims.heads.sort((a, b) => a.seq - b.seq);
    claims.vouched.sort((a, b) => a.seq - b.seq);
    if (claims.closedAt !== undefined) claims.closedAt = claims.heads.at(-1)?.seq ?? 0;
  }
  for (const range of lostForOthers) of(range.chain).pruned.push(...unsigned(range, byChain.get(range.chain)?.heads ?? []));
  return byChain;
}

/**
 * The parts of another chain's lost range (recorded by the writer that adopted its spool) that its own writer never
 * signed as stored: a line adopted may be of a document its writer had stored and signed (it died before the line
 * was settled). Its writer's signature stands: such a link missing is deleted, and its Merkle root is checked as
 * signed. The hash of the range's last link stays only on the part that still ends there.
 */
function unsigned(range: PrunedRange, heads: ChainClaims['heads']): PrunedRange[] {
  const signed = heads.flatMap((head) => (head.from_seq === null ? [] : [{ chain: range.chain, from: head.from_seq, to: head.seq }]));
  return coveredBy(signed, range.from, range.to)
    .filter((part) => !part.pruned)
    .map(({ from, to }) => (to === range.to ? { ...range, from } : { chain: range.chain, from, to, lost: true as const }));
}

const WRONG_KEY_HINT = " (no checkpoint names a key given: if the key is the trail's, every checkpoint was signed again)";

/**
 * Whether no checkpoint, stored or anchored, names a key given: then the likelier cause of a signature by an unknown
 * key is the wrong key rather than a trail signed again throughout. Both read alike, so the findings say so; they
 * stay `forged`, for a re-signed trail must not pass.
 */
function noneNamesAKeyGiven(checkpoints: readonly CheckpointDocument[], keys: ReadonlyMap<string, ResolvedKey>): boolean {
  if (keys.size === 0 || checkpoints.length === 0) return false;
  return !checkpoints.some((c) => {
    const id = keyIdOf(c);
    return id !== undefined && keys.has(id);
  });
}

/** A checkpoint whose seal does not hold. */
function forged(checkpoint: CheckpointDocument, message: string): VerifyFinding {
  return { problem: 'forged', kind: 'checkpoint', id: checkpoint.uid, chain: checkpoint.chain, seq: null, message };
}
