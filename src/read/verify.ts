import { resolveKey, type ResolvedKey, type VerifyingKey } from '../build/integrity/checkpoint-keys.js';
import { appendedParts, OMITTED, sealedRequest } from '../build/integrity/chain.js';
import { linkHash } from '../build/integrity/canonical.js';
import type { CheckpointDocument, IntegrityLink, RequestDocument, RequestIntegrity } from '../shared/document.js';
import { ActionLogValidationError } from '../shared/errors.js';
import { dateProblem } from '../shared/dates.js';
import type { Entry, EntryKind, Store, StoredEntry, StoreFilter } from '../stores/store.js';
import { ChainChecker, type ReadLink } from './verify/chains.js';
import { trustedCheckpoints } from './verify/checkpoints.js';
import { Findings, type VerifyReport } from './verify/report.js';
import { archiveFileProblem, archiveFileSources } from './verify/archive-file.js';
import { type EntrySource, inTimeOrder, storePages } from './verify/sources.js';
import { isStore } from '../stores/archive.js';

export type { VerifyFinding, VerifyProblem, VerifyReport, VerifyStatus, VerifySummary } from './verify/report.js';

/** Options of `logger.verify`. */
export interface VerifyOptions {
  /** Only entries from this time on (a window: gaps at its edges are not judged, nor what no checkpoint covers past it). */
  from?: Date | string;
  /** Only entries up to this time. */
  to?: Date | string;
  /**
   * Keys that verify checkpoint signatures: Ed25519 public keys (`KeyObject` or PEM), or `{ hmac: secret }`; old keys
   * too, after a rotation. Default: the logger's own `integrity.key`.
   */
  keys?: readonly VerifyingKey[];
  /** Copies of checkpoints kept elsewhere (what `integrity.anchor` received): the store must still hold each. */
  anchors?: readonly CheckpointDocument[];
  /**
   * Where `archive` moved entries: stores, or paths of the files of JSON lines it wrote to a stream. Their entries
   * are checked with the trail's, and what an archive moved must be in one of them (else it is `deleted`).
   */
  archives?: ReadonlyArray<Store | string>;
  /** Findings listed at most (all are counted); default 1000. */
  maxFindings?: number;
  /** Entries read per round trip; default 1000. */
  pageSize?: number;
  /** Called as entries are checked, with how many since the last call (a progress bar's step). */
  onProgress?: (entries: number) => void;
}

const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];

function dateOption(value: Date | string | undefined, path: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  const problem = dateProblem(date);
  if (problem) throw new ActionLogValidationError([{ path, message: problem }], 'verify options');
  return date;
}

function keyMap(given: readonly VerifyingKey[] | undefined, own: ResolvedKey | undefined): Map<string, ResolvedKey> {
  const keys = new Map<string, ResolvedKey>();
  if (own && !given) keys.set(own.id, own);
  for (const [i, key] of (given ?? []).entries()) {
    try {
      const resolved = resolveKey(key, 'verify');
      keys.set(resolved.id, resolved);
    } catch (error) {
      throw new ActionLogValidationError([{ path: `keys.${i}`, message: (error as Error).message }], 'verify options');
    }
  }
  return keys;
}

/** Checks a trail against its chains and signed checkpoints; see `VerifyReport`. */
export async function verifyTrail(store: Store, options: VerifyOptions, ownKey: ResolvedKey | undefined): Promise<VerifyReport> {
  const from = dateOption(options.from, 'from');
  const to = dateOption(options.to, 'to');
  const keys = keyMap(options.keys, ownKey);
  const { onProgress } = options;
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw new ActionLogValidationError([{ path: 'onProgress', message: 'must be a function' }], 'verify options');
  const step = options.pageSize ?? 1000;
  const findings = new Findings(options.maxFindings ?? 1000);
  const unverifiable: string[] = [];
  if (keys.size === 0) unverifiable.push('no key to check checkpoint signatures: pass keys');
  if (!store.checkpoints) unverifiable.push('the store keeps no checkpoints');
  const archives = archivesOption(options.archives, store);
  const trusted = await trustedCheckpoints(store, keys, options.anchors ?? [], findings);
  // A bound is an edge only where it leaves entries out (archive files are not looked into: taken as leaving some).
  const files = archives.some((archive) => typeof archive === 'string');
  const stores = [store, ...archives.filter(isStore)];
  const checker = new ChainChecker(trusted.byChain, findings, {
    startEdge: from !== undefined && (files || (await anyEntry(stores, { to: new Date(from.getTime() - 1) }))),
    endEdge: to !== undefined && (files || (await anyEntry(stores, { from: new Date(to.getTime() + 1) }))),
    ...(to ? { to } : {}),
    archivesGiven: archives.length > 0,
  });
  const filter: StoreFilter = { include_inactive: true, include_expired: true, ...(from ? { from } : {}), ...(to ? { to } : {}) };
  const { sources, notes } = await entrySources([store, ...archives], filter, step);
  unverifiable.push(...notes);
  let entries = 0;
  let links = 0;
  let legacy = 0;
  let sealedSeen = false;
  for await (const { kind, archived, stored } of inTimeOrder(sources)) {
    if (++entries % step === 0) onProgress?.(step);
    const read = readLinks(kind, stored, archived);
    if (read.length === 0) {
      if (!sealedSeen) legacy++;
      else
        findings.add({
          problem: 'unsealed',
          kind,
          id: stored.position.id,
          chain: null,
          seq: null,
          message: 'an entry without a link among linked ones',
        });
      continue;
    }
    sealedSeen = true;
    for (const link of read) {
      links++;
      checker.add(link);
    }
  }
  if (entries % step > 0) onProgress?.(entries % step);
  checker.finish();
  if (links > 0 && trusted.byChain.size === 0)
    unverifiable.push('no signed checkpoint: the links hold together, but nothing proves they are the writer’s');
  if (links === 0 && legacy > 0 && trusted.byChain.size === 0)
    unverifiable.push('no entry is sealed and no checkpoint signed: the trail was written without integrity');
  if (findings.counts.unconfirmed > 0)
    unverifiable.push(`${findings.counts.unconfirmed} links are newer than every checkpoint of their chain`);
  const status = findings.tampered ? 'tampered' : unverifiable.length > 0 ? 'unverifiable' : 'intact';
  return {
    status,
    summary: { entries, links, chains: checker.chainCount, checkpoints: trusted.count, legacy, counts: findings.counts },
    findings: findings.list,
    unverifiable,
  };
}

/** Whether any of these stores holds an entry of any kind in this time range (expired and inactive ones too). */
async function anyEntry(stores: readonly Store[], range: Pick<StoreFilter, 'from' | 'to'>): Promise<boolean> {
  const filter: StoreFilter = { include_inactive: true, include_expired: true, ...range };
  for (const one of stores) {
    for (const kind of KINDS) {
      const [found] = await one.query({ kind, filter, by: 'time', order: 'asc', limit: 1 });
      if (found) return true;
    }
  }
  return false;
}

/** Archives given as stores (not the one verified) or paths of files. */
function archivesOption(given: VerifyOptions['archives'], store: Store): ReadonlyArray<Store | string> {
  if (given === undefined) return [];
  const problems = (Array.isArray(given) ? given : [given]).flatMap((archive: unknown, i) => {
    const path = `archives.${i}`;
    if (archive === store) return [{ path, message: 'is the store verified: its entries would be read twice' }];
    if (isStore(archive)) return [];
    if (typeof archive !== 'string' || archive === '') return [{ path, message: 'must be a Store or the path of an archive file' }];
    const problem = archiveFileProblem(archive);
    return problem === undefined ? [] : [{ path, message: problem }];
  });
  if (!Array.isArray(given)) problems.unshift({ path: 'archives', message: 'must be an array' });
  if (problems.length > 0) throw new ActionLogValidationError(problems, 'verify options');
  return given;
}

/**
 * The sources of the trail's store (the first) and of the archives: every kind of each store, and the time-ordered
 * runs of each archive file; with why part of a file could not be read.
 */
async function entrySources(
  [store, ...archives]: [Store, ...Array<Store | string>],
  filter: StoreFilter,
  pageSize: number,
): Promise<{ sources: EntrySource[]; notes: string[] }> {
  const sources = KINDS.map((kind): EntrySource => ({ kind, archived: false, pages: storePages(store, kind, filter, pageSize) }));
  const notes: string[] = [];
  for (const [i, archive] of archives.entries()) {
    if (typeof archive !== 'string') {
      sources.push(...KINDS.map((kind) => ({ kind, archived: true, pages: storePages(archive, kind, filter, pageSize) })));
      continue;
    }
    const window = { from: filter.from, to: filter.to };
    const file = await archiveFileSources({ file: archive, path: `archives.${i}`, window, pageSize });
    sources.push(...file.sources);
    notes.push(...file.notes);
  }
  return { sources, notes };
}

/** The links of one entry read back, each with whether its content still hashes to it. */
function readLinks(kind: EntryKind, stored: StoredEntry, archived: boolean): ReadLink[] {
  const entry: Entry & { integrity?: RequestIntegrity } = stored.entry;
  const integrity = entry.integrity;
  if (!integrity) return [];
  const id = stored.position.id;
  const out: ReadLink[] = [];
  if (isLink(integrity)) {
    // An archive store's copy keeps the `expires_at` it was sealed with in its link.
    const copied = archived && integrity.expires_at != null && (entry as { expires_at?: unknown }).expires_at == null;
    const sealed = copied ? { ...entry, expires_at: integrity.expires_at } : entry;
    const body = kind === 'requests' ? sealedRequest(sealed as RequestDocument) : sealed;
    const hash = linkHash(body, integrity.prev, { omit: kind === 'actions' ? OMITTED.actions : [] });
    out.push({ ...pick(integrity), intact: hash === integrity.hash, kind, id, archived });
  }
  if (kind === 'requests') {
    for (const { link, body } of appendedParts(entry as RequestDocument)) {
      out.push({ ...pick(link), intact: isLink(link) && linkHash(body, link.prev) === link.hash, kind: 'append', id, archived });
    }
  }
  return out;
}

const isLink = (value: Partial<IntegrityLink>): value is IntegrityLink =>
  typeof value.chain === 'string' && typeof value.seq === 'number' && typeof value.prev === 'string' && typeof value.hash === 'string';

const pick = (link: Partial<IntegrityLink>) => ({
  chain: String(link.chain),
  seq: Number(link.seq),
  prev: String(link.prev),
  hash: String(link.hash),
});
