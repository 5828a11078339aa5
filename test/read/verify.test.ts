import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  ActionLogAnchorTimeoutError,
  type CheckpointDocument,
  createActionLogger,
  type Entry,
  type EntryKind,
  MemoryStore,
  type Store,
  type StoreBatch,
  type VerifyFinding,
} from 'actionlog';
import { STORE_KINDS } from '../support/every-store.js';
import { linkHash } from '../../src/build/integrity/canonical.js';
import { orderChange } from '../../examples/shared/orders.js';
import { FlakyStore, PoisonStore } from '../support/stores.js';
import { ed25519, entriesOf, KINDS, linked, openTamperable, sealingLogger, type TamperableStore, writeTrail } from '../support/trail.js';

const opened: TamperableStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

/** A store holding a sealed trail written and closed by one logger, and the key that signed it. */
async function sealedTrail(kind: (typeof STORE_KINDS)[number]) {
  const tamperable = await openTamperable(kind);
  opened.push(tamperable);
  const keys = ed25519();
  const anchors: Parameters<typeof sealingLogger>[2] = [];
  const logger = sealingLogger(tamperable.store, keys.privateKey, anchors);
  await writeTrail(logger);
  await logger.close();
  return { ...tamperable, keys, anchors };
}

async function verify(store: Store, keys: ReturnType<typeof ed25519>, anchors: Parameters<typeof sealingLogger>[2] = []) {
  const reader = createActionLogger({ store, integrity: { key: keys.privateKey } });
  const report = await reader.verify({ keys: [keys.publicKey], anchors });
  await reader.close();
  return report;
}

/** Rewrites an entry (remove, then write the given copy): what someone with write access to the store can do. */
async function rewrite(store: Store, kind: EntryKind, id: string, entry: Entry): Promise<void> {
  await store.remove!(kind, [id]);
  const { _id, ...copy } = entry;
  const part = { requests: 'requests', actions: 'actionLogs', changes: 'modelLogs', activities: 'activities' } as const;
  await store.write({ requests: [], actionLogs: [], modelLogs: [], activities: [], [part[kind]]: [copy] });
}

const named = (findings: VerifyFinding[], problem: VerifyFinding['problem']) => findings.filter((f) => f.problem === problem);

describe.each(STORE_KINDS)('verify on %s', (kind) => {
  it('finds a trail with mirrors, activities and late appends intact, every entry linked and covered', async () => {
    const { store, keys } = await sealedTrail(kind);
    const report = await verify(store, keys);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('intact');
    const total = (await Promise.all(KINDS.map((k) => entriesOf(store, k)))).flat().length;
    expect(report.summary.entries).toBe(total);
    // Three late appends ride in request documents, as links of their own.
    expect(report.summary.links).toBe(total + 3);
    expect(report.summary.chains).toBe(1);
  });

  it('reports its progress a page at a time, adding up to every entry checked', async () => {
    const { store, keys } = await sealedTrail(kind);
    const reader = createActionLogger({ store });
    const steps: number[] = [];
    const report = await reader.verify({ keys: [keys.publicKey], pageSize: 4, onProgress: (n) => steps.push(n) });
    await reader.close();
    expect(report.status).toBe('intact');
    expect(steps.slice(0, -1).every((n) => n === 4)).toBe(true);
    expect(steps.reduce((a, b) => a + b, 0)).toBe(report.summary.entries);
    await expect(reader.verify({ onProgress: 'yes' as never })).rejects.toThrow(/onProgress: must be a function/);
  });

  it('names a modified field by document, chain and sequence', async () => {
    const { store, keys } = await sealedTrail(kind);
    const [target] = await entriesOf(store, 'actions');
    const entry = { ...target!.entry, note: 'rewritten' };
    await rewrite(store, 'actions', target!.position.id, entry);
    const report = await verify(store, keys);
    expect(report.status).toBe('tampered');
    const [modified] = named(report.findings, 'modified');
    expect(modified).toMatchObject({ kind: 'actions', chain: target!.entry.integrity!.chain, seq: target!.entry.integrity!.seq });
    expect(report.summary.counts.modified).toBe(1);
  });

  it('names a document deleted in the middle of a chain as a gap', async () => {
    const { store, keys } = await sealedTrail(kind);
    const links = await linked(store);
    const middle = links[Math.floor(links.length / 2)]!;
    await store.remove!(middle.kind, [middle.stored.position.id]);
    const report = await verify(store, keys);
    expect(report.status).toBe('tampered');
    expect(named(report.findings, 'deleted')).toEqual([
      expect.objectContaining({ chain: middle.chain, seq: middle.seq, to_seq: middle.seq }),
    ]);
  });

  it('names the newest documents of a chain deleted, against the checkpoint that covers them', async () => {
    const { store, keys } = await sealedTrail(kind);
    const links = await linked(store);
    const newest = links.slice(-2);
    // The chain's last two links, each an entry of its own.
    expect(newest.map((l) => l.seq)).toEqual([newest[0]!.seq, newest[0]!.seq + 1]);
    for (const l of newest) await store.remove!(l.kind, [l.stored.position.id]);
    const report = await verify(store, keys);
    expect(report.status).toBe('tampered');
    const truncated = named(report.findings, 'truncated');
    expect(truncated).toHaveLength(1);
    expect(truncated[0]).toMatchObject({ chain: newest[0]!.chain, seq: newest[0]!.seq, to_seq: newest[1]!.seq });
  });

  it('without a key: an untouched trail is unverifiable (not forged), and what the checkpoints show is still found', async () => {
    const { store } = await sealedTrail(kind);
    const reader = createActionLogger({ store });
    const untouched = await reader.verify();
    expect(untouched.findings).toEqual([]);
    expect(untouched).toMatchObject({ status: 'unverifiable', unverifiable: ['no key to check checkpoint signatures: pass keys'] });
    const newest = (await linked(store)).at(-1)!;
    await store.remove!(newest.kind, [newest.stored.position.id]);
    const report = await reader.verify();
    await reader.close();
    expect(report.status).toBe('tampered');
    expect(named(report.findings, 'truncated')).toEqual([expect.objectContaining({ chain: newest.chain, seq: newest.seq })]);
    expect(named(report.findings, 'forged')).toEqual([]);
  });

  it('checks entries past their expiry that are not purged yet: intact, not deleted', async () => {
    const tamperable = await openTamperable(kind);
    opened.push(tamperable);
    const keys = ed25519();
    const { store } = tamperable;
    const writer = createActionLogger({ store, retentionDays: 1 / 86_400, integrity: { key: keys.privateKey, checkpointEvery: 5 } });
    await writeTrail(writer, 1);
    await writer.close();
    // Every entry is past its expires_at now: reads no longer return it, the store still holds it.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await store.count('activities', {})).toBe(0);
    const report = await verify(store, keys);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.summary.entries).toBeGreaterThan(0);
  });

  it('names two swapped documents as reordered', async () => {
    const { store, keys } = await sealedTrail(kind);
    const links = (await linked(store)).filter((l) => l.kind === 'activities');
    const [a, b] = [links[0]!, links[1]!];
    const ia = (a.stored.entry as { integrity: { seq: number } }).integrity;
    const ib = (b.stored.entry as { integrity: { seq: number } }).integrity;
    await rewrite(store, 'activities', a.stored.position.id, { ...a.stored.entry, integrity: { ...ia, seq: ib.seq } } as Entry);
    await rewrite(store, 'activities', b.stored.position.id, { ...b.stored.entry, integrity: { ...ib, seq: ia.seq } } as Entry);
    const report = await verify(store, keys);
    expect(report.status).toBe('tampered');
    const seqs = named(report.findings, 'reordered').map((f) => f.seq);
    expect(seqs).toContain(ia.seq);
  });

  it('names a forged document inserted into a chain', async () => {
    const { store, keys } = await sealedTrail(kind);
    const [first] = await entriesOf(store, 'activities');
    // A copy under an id of its own (the store keeps one entry per uid: the same uid would not be stored again).
    const { _id, ...forged } = { ...first!.entry, uid: randomUUID(), action: 'forged', activity_date: new Date(Date.now() + 60_000) };
    await store.write({ requests: [], actionLogs: [], modelLogs: [], activities: [forged] });
    const report = await verify(store, keys);
    expect(report.status).toBe('tampered');
    const inserted = named(report.findings, 'inserted');
    expect(inserted).toEqual([expect.objectContaining({ kind: 'activities', seq: first!.entry.integrity!.seq })]);
  });

  it('names checkpoints signed with another key as forged', async () => {
    const { store, keys } = await sealedTrail(kind);
    // Someone with write access but another key writes entries and signs checkpoints for them.
    const intruder = sealingLogger(store, ed25519().privateKey);
    await writeTrail(intruder, 1);
    await intruder.close();
    const report = await verify(store, keys);
    expect(report.status).toBe('tampered');
    const forged = named(report.findings, 'forged');
    expect(forged.length).toBeGreaterThan(0);
    expect(forged.every((f) => f.kind === 'checkpoint' && f.chain === intruder.integrityChain)).toBe(true);
    expect(named(report.findings, 'unconfirmed')).toEqual([expect.objectContaining({ chain: intruder.integrityChain, seq: 1 })]);
  });

  it('names a store rolled back to an older copy against the anchored checkpoints', async () => {
    const trail = await sealedTrail(kind);
    const { store, keys, anchors } = trail;
    const before = new Set((await linked(store)).map((l) => `${l.kind}:${l.stored.position.id}`));
    const checkpointsBefore = new Set((await store.checkpoints!({ limit: 1000 })).map((c) => c.checkpoint.uid));
    const later = sealingLogger(store, keys.privateKey, anchors);
    await writeTrail(later, 2);
    await later.close();
    // The older copy comes back: what was written since is gone, checkpoints included.
    for (const l of await linked(store))
      if (!before.has(`${l.kind}:${l.stored.position.id}`)) await store.remove!(l.kind, [l.stored.position.id]);
    for (const c of await store.checkpoints!({ limit: 1000 }))
      if (!checkpointsBefore.has(c.checkpoint.uid)) await trail.dropCheckpoint(c.checkpoint.uid);
    expect((await verify(store, keys)).status).toBe('intact');
    const report = await verify(store, keys, anchors);
    expect(report.status).toBe('tampered');
    const rolledBack = named(report.findings, 'rolled_back');
    expect(rolledBack.length).toBeGreaterThan(0);
    expect(rolledBack.every((f) => f.chain === later.integrityChain)).toBe(true);
    expect(named(report.findings, 'truncated')).toEqual([expect.objectContaining({ chain: later.integrityChain, seq: 1 })]);
  });
});

describe('verify keys', () => {
  it('keeps checkpoints of a rotated key verifiable when its public key is still given', async () => {
    const store = new MemoryStore();
    const [before, after] = [ed25519(), ed25519()];
    for (const key of [before, after]) {
      const logger = sealingLogger(store, key.privateKey);
      await writeTrail(logger, 1);
      await logger.close();
    }
    const reader = createActionLogger({ store });
    const both = await reader.verify({ keys: [before.publicKey, after.publicKey] });
    expect(both.status).toBe('intact');
    expect(both.summary.chains).toBe(2);
    const onlyNew = await reader.verify({ keys: [after.publicKey] });
    expect(onlyNew.status).toBe('tampered');
    expect(onlyNew.findings.filter((f) => f.problem === 'forged').every((f) => /unknown key/.test(f.message))).toBe(true);
    // Some checkpoints name the key given: the old key's are forged, with no hint of a wrong key.
    expect(onlyNew.findings.some((f) => f.message.includes('no checkpoint names a key given'))).toBe(false);
    await reader.close();
  });

  it('verifies HMAC-signed checkpoints with the same secret only, and refuses a short one naming the option', async () => {
    const store = new MemoryStore();
    const secret = 'a secret of thirty-two bytes....';
    const logger = createActionLogger({ store, integrity: { key: { hmac: secret } } });
    await writeTrail(logger, 1);
    await logger.close();
    const reader = createActionLogger({ store });
    expect((await reader.verify({ keys: [{ hmac: secret }] })).status).toBe('intact');
    const other = await reader.verify({ keys: [{ hmac: 'another secret of 32 bytes......' }] });
    expect(other.status).toBe('tampered');
    expect(other.summary.counts.forged).toBeGreaterThan(0);
    expect(() => createActionLogger({ store, integrity: { key: { hmac: 'short' } } })).toThrow(/integrity\.key.*16 bytes/);
    await reader.close();
  });
});

describe('what the writer never stored', () => {
  const keys = ed25519();
  const reader = async (store: Store) => {
    const logger = createActionLogger({ store });
    const report = await logger.verify({ keys: [keys.publicKey] });
    await logger.close();
    return report;
  };
  const job = (logger: ReturnType<typeof createActionLogger>, action: string, note?: string) =>
    logger.run({ module: 'jobs' }, () => {
      logger.record({ action, ...(note ? { note } : {}) });
    });

  /** Three runs, the second's write failing past the (no) retries: its documents are dropped. */
  const trailWithADrop = async () => {
    const store = new FlakyStore();
    const errors: Error[] = [];
    const logger = createActionLogger({ store, integrity: { key: keys.privateKey }, maxRetries: 0, onError: (e) => void errors.push(e) });
    await job(logger, 'first');
    await logger.flush();
    store.failNext(1);
    await job(logger, 'dropped');
    await logger.flush();
    await job(logger, 'third');
    await logger.close();
    return { store, logger, errors };
  };

  it('names documents dropped after the retries as lost, not deleted: the trail stays intact', async () => {
    const { store, logger, errors } = await trailWithADrop();
    expect(logger.stats()).toMatchObject({ stored: 2, dropped: 1 });
    expect(errors.map((e) => e.message)).toContainEqual(expect.stringMatching(/documents are dropped/));
    const report = await reader(store);
    // The request document and its action's entry: links 3 and 4.
    expect(report.findings).toEqual([expect.objectContaining({ problem: 'lost', seq: 3, to_seq: 4 })]);
    expect(report.status).toBe('intact');
    expect(report.summary.counts).toMatchObject({ lost: 2, deleted: 0 });
  });

  it('checks the chain across lost links: an entry rewritten before them, its hash recomputed, is modified', async () => {
    const { store } = await trailWithADrop();
    const [first] = await entriesOf(store, 'actions');
    const { _id, integrity, ...content } = { ...first!.entry, note: 'rewritten' };
    // What someone without the key can do: the entry's own hash made to match, the next link (lost) not there to tell.
    const hash = linkHash(content, integrity!.prev, { omit: ['is_active'] });
    await rewrite(store, 'actions', first!.position.id, { ...content, integrity: { ...integrity!, hash } });
    const report = await reader(store);
    expect(report.status).toBe('tampered');
    expect(named(report.findings, 'modified').map((f) => f.message)).toEqual([expect.stringMatching(/Merkle root/)]);
    expect(named(report.findings, 'reordered')).toEqual([]);
  });

  it('checkpoints runs of links: a strict write under way holds back the links the queue stored after it', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const store = new (class extends MemoryStore {
      override async write(batch: StoreBatch): Promise<void> {
        if (JSON.stringify(batch).includes('held_write')) await held;
        await super.write(batch);
      }
    })();
    const logger = createActionLogger({ store, integrity: { key: keys.privateKey, checkpointEvery: 4 }, onStoreError: 'throw' });
    // Outside any scope, changes are queued even under the strict policy.
    const queued = (id: string) => {
      logger.recordModelChange({ ...orderChange(id, { old_object: null, new_object: { _id: id } }), action: 'Created' }, null);
    };
    queued('1');
    await logger.flush();
    const strict = job(logger, 'held_write');
    queued('2');
    // Links 1-2 and 5-6 stored, 3-4 waiting: a checkpoint of 1, 2, 5, 6 would sign a Merkle root over a run with a
    // hole, which verify cannot rebuild.
    await logger.flush();
    release();
    await strict;
    // Then 3-4 and 7-8 in one checkpoint, whose head is past the first's.
    queued('3');
    await logger.close();
    const report = await reader(store);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('intact');
  });

  it('names the documents of a write the store refused (quarantined) as lost', async () => {
    const store = new PoisonStore('refuse-me');
    const logger = createActionLogger({ store, integrity: { key: keys.privateKey }, onError: () => {} });
    await Promise.all([job(logger, 'kept'), job(logger, 'refused', 'refuse-me'), job(logger, 'also_kept')]);
    await logger.close();
    expect(logger.stats()).toMatchObject({ stored: 2, quarantined: 1 });
    const report = await reader(store);
    expect(named(report.findings, 'lost')).toHaveLength(1);
    expect(report.status).toBe('intact');
    // Deleting a stored one is still tampering.
    const [kept] = await entriesOf(store, 'actions');
    await store.remove('actions', [kept!.position.id]);
    expect((await reader(store)).status).toBe('tampered');
  });

  it("seals what the strict path stores at once: verify checks it, a change to it shows, and a failed write's links are lost", async () => {
    const store = new FlakyStore();
    const logger = createActionLogger({ store, integrity: { key: keys.privateKey }, onStoreError: 'throw', onError: () => {} });
    await job(logger, 'first');
    store.failNext(1);
    await expect(job(logger, 'second')).rejects.toThrow(/store write failed/);
    // Owed to the trail all the same: queued, and sealed again as stored.
    await job(logger, 'third');
    await logger.close();
    const actions = await entriesOf(store, 'actions');
    // Sorted: the three may share a millisecond.
    expect(actions.map((a) => a.entry.action_type).sort()).toEqual(['first', 'second', 'third']);
    const chains = new Set(actions.map(({ entry }) => entry.integrity?.chain));
    expect([...chains]).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/)]);
    const report = await reader(store);
    expect(report.findings.filter((f) => f.problem !== 'lost')).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.summary.links).toBe(6);
    const [first] = actions;
    await rewrite(store, 'actions', first!.position.id, { ...first!.entry, note: 'rewritten' });
    expect(named((await reader(store)).findings, 'modified')).toEqual([
      expect.objectContaining({ kind: 'actions', seq: first!.entry.integrity!.seq }),
    ]);
  });
});

describe('anchors', () => {
  const secret = { hmac: 'a secret of thirty-two bytes....' };

  it('copies a checkpoint whose anchor failed with the next one, in order, and reports it as an anchor failure', async () => {
    const store = new MemoryStore();
    const anchored: number[] = [];
    const errors: Error[] = [];
    let failures = 1;
    const logger = createActionLogger({
      store,
      onError: (e) => errors.push(e),
      integrity: {
        key: secret,
        checkpointEvery: 5,
        anchor: (checkpoint) => {
          if (failures-- > 0) throw new Error('bucket unreachable');
          anchored.push(checkpoint.number);
        },
      },
    });
    await writeTrail(logger, 3);
    await logger.close();
    const stored = (await store.checkpoints({ limit: 100 })).map((c) => c.checkpoint.number);
    expect(stored.length).toBeGreaterThan(1);
    expect(anchored).toEqual(stored);
    expect(errors.map((e) => [e.message, (e.cause as Error).message])).toEqual([
      ['Could not anchor integrity checkpoint 1; it is tried again with the next one', 'bucket unreachable'],
    ]);
  });

  it('stores the checkpoints of a logger whose anchor hangs, and close({ timeout }) returns soon after its deadline', async () => {
    const store = new MemoryStore();
    const errors: Error[] = [];
    const logger = createActionLogger({
      store,
      onError: (e) => errors.push(e),
      integrity: { key: secret, checkpointEvery: 5, anchor: () => new Promise(() => {}) },
    });
    await writeTrail(logger, 3);
    const started = Date.now();
    expect(await logger.close({ timeout: 300 })).toEqual({ left: 0 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors.map((e) => e.message)).toEqual(['close() stopped waiting for the last integrity checkpoint to be stored and anchored']);
    // Every checkpoint is stored, the closing one too: the trail verifies whatever the anchor did.
    const report = await createActionLogger({ store }).verify({ keys: [secret] });
    expect(report.status).toBe('intact');
  });

  const batchNotDeleted = {
    purge: 'the batch it records was not deleted; nothing deleted before',
    archive:
      'the batch it records was copied to the destination but not deleted (a rerun copies it again: a store keeps one copy, a stream gets its lines twice); nothing moved before',
  };
  const held = async (store: MemoryStore) => (await Promise.all(KINDS.map((k) => entriesOf(store, k)))).flat().length;
  const prunedCheckpoints = async (store: MemoryStore) =>
    (await store.checkpoints({ limit: 100 })).map((c) => c.checkpoint).filter((c) => c.pruned.length > 0);

  it.each(['purge', 'archive'] as const)(
    '%s rejects with ActionLogAnchorTimeoutError once anchorTimeoutMs passes with the anchor hung, deleting nothing; retried, without waiting again',
    async (operation) => {
      const store = new MemoryStore();
      const errors: Error[] = [];
      const logger = createActionLogger({
        store,
        onError: (e) => errors.push(e),
        // Checkpoints of what was stored are anchored; the one recording what a purge or an archive deletes hangs.
        integrity: {
          key: secret,
          checkpointEvery: 5,
          anchorTimeoutMs: 1000,
          anchor: (c) => (c.pruned.length > 0 ? new Promise(() => {}) : undefined),
        },
      });
      await writeTrail(logger, 3);
      const stored = await held(store);
      const archive = new MemoryStore();
      const run = () =>
        operation === 'purge' ? logger.purge({ before: new Date() }) : logger.archive({ before: new Date(), to: archive });
      // The clock the anchors' queue reads stands still: the rerun below must know the copy overdue from the deadline
      // that passed, as a timer may fire a millisecond before that clock counts its time as spent.
      const clock = vi.spyOn(performance, 'now').mockReturnValue(performance.now());
      onTestFinished(() => {
        clock.mockRestore();
      });
      const started = Date.now();
      const error: unknown = await run().catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(error).toBeInstanceOf(ActionLogAnchorTimeoutError);
      const [recording] = await prunedCheckpoints(store);
      expect(error).toMatchObject({ operation, checkpoint: recording?.number, timeoutMs: 1000, recorded: true });
      expect((error as Error).message).toBe(
        `${operation}: integrity.anchor did not return within 1000 ms (integrity.anchorTimeoutMs) for checkpoint ${recording?.number}; ${batchNotDeleted[operation]}`,
      );
      expect(await held(store)).toBe(stored);
      // Run again while that anchor still hangs: it fails before recording the batch a second time, without waiting.
      // A timer of anchorTimeoutMs set just before: were the rerun to wait for the anchor again, that timer fires first.
      const waitedFull = sleep(1000).then(() => 'waited anchorTimeoutMs');
      const again: unknown = await Promise.race([run().catch((e: unknown) => e), waitedFull]);
      expect(again).toMatchObject({ operation, checkpoint: recording?.number, recorded: false });
      expect((again as Error).message).toBe(
        `${operation}: integrity.anchor has not returned for checkpoint ${recording?.number} within 1000 ms (integrity.anchorTimeoutMs); ` +
          `the next batch was not recorded or removed; nothing ${operation === 'purge' ? 'deleted' : 'moved'} before`,
      );
      expect(await prunedCheckpoints(store)).toHaveLength(1);
      await logger.close({ timeout: 300 });
      // The entries a checkpoint says were pruned are all still there: the trail is intact.
      const report = await createActionLogger({ store }).verify({ keys: [secret] });
      expect(report.status).toBe('intact');
    },
  );

  /**
   * A logger with a trail whose checkpoints are anchored, then a checkpoint made as entries are stored (not by a
   * purge) whose copy hangs from the moment it is handed over; `hung` is its number.
   */
  async function withHungCopy(anchorTimeoutMs: number) {
    const store = new MemoryStore();
    const handed: CheckpointDocument[] = [];
    let hang = false;
    const logger = createActionLogger({
      store,
      onError: () => {},
      integrity: {
        key: secret,
        checkpointEvery: 5,
        anchorTimeoutMs,
        anchor: (c) => {
          handed.push(c);
          return hang ? new Promise(() => {}) : undefined;
        },
      },
    });
    await writeTrail(logger, 3);
    await logger.flush();
    hang = true;
    const anchoredBefore = handed.length;
    await logger.run({ module: 'orders' }, async () => {
      for (let i = 0; i < 5; i++) logger.record({ action: 'more' });
    });
    await logger.flush();
    await vi.waitFor(() => {
      expect(handed.length).toBe(anchoredBefore + 1);
    });
    return { store, logger, hung: handed.at(-1)!.number };
  }

  it('names the checkpoint recording the batch, not an earlier one whose copy it waits behind', async () => {
    // The earlier copy has not hung for long yet: the purge's waits behind it.
    const { store, logger, hung: earlier } = await withHungCopy(500);
    const error: unknown = await logger.purge({ before: new Date() }).catch((e: unknown) => e);
    const [recording] = await prunedCheckpoints(store);
    expect(recording!.number).toBeGreaterThan(earlier);
    expect(error).toMatchObject({ operation: 'purge', checkpoint: recording!.number, behind: earlier, recorded: true });
    expect((error as Error).message).toContain(`for checkpoint ${recording!.number} (its copy waits behind checkpoint ${earlier}'s)`);
    await logger.close({ timeout: 300 });
  });

  it('a purge begun once the copy of an earlier checkpoint has hung past anchorTimeoutMs fails at once, recording nothing', async () => {
    // Nothing waits on that copy: only the clock says it is overdue.
    const { store, logger, hung } = await withHungCopy(200);
    await sleep(300);
    const stored = await held(store);
    const error: unknown = await logger.purge({ before: new Date() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ operation: 'purge', checkpoint: hung, recorded: false });
    expect(await prunedCheckpoints(store)).toEqual([]);
    expect(await held(store)).toBe(stored);
    await logger.close({ timeout: 300 });
  });

  it.each(['purge', 'archive'] as const)(
    '%s stopped by an anchor timeout says what it removed before; rerun once the anchor returns, every entry is removed once',
    async (operation) => {
      const store = new MemoryStore();
      let release!: () => void;
      let recordings = 0;
      const logger = createActionLogger({
        store,
        onError: () => {},
        integrity: {
          key: secret,
          checkpointEvery: 5,
          anchorTimeoutMs: 200,
          // The second batch's checkpoint hangs until released.
          anchor: (c) => (c.pruned.length > 0 && ++recordings === 2 ? new Promise<void>((resolve) => (release = resolve)) : undefined),
        },
      });
      await writeTrail(logger, 3);
      const perKind = async () => {
        const counts = { requests: 0, actions: 0, changes: 0, activities: 0 };
        for (const k of KINDS) counts[k] = (await entriesOf(store, k)).length;
        return counts;
      };
      const kept = await perKind();
      const total = await held(store);
      const archive = new MemoryStore();
      // Every entry, also one stored in the millisecond the run starts.
      const before = new Date(Date.now() + 60_000);
      const run = () =>
        operation === 'purge' ? logger.purge({ before, batchSize: 2 }) : logger.archive({ before, to: archive, batchSize: 2 });
      const error = (await run().catch((e: unknown) => e)) as ActionLogAnchorTimeoutError;
      expect(error).toBeInstanceOf(ActionLogAnchorTimeoutError);
      const after = await perKind();
      const removed = Object.fromEntries(KINDS.map((k) => [k, kept[k] - after[k]]));
      expect(error.counts).toEqual(removed);
      expect(error.counts.requests).toBe(2);
      expect(error.message).toMatch(new RegExp(`; ${operation === 'purge' ? 'deleted' : 'moved'} before: 2 requests$`));
      if (operation === 'archive') expect(await held(archive)).toBe(4); // the batch kept here was copied too
      release();
      await new Promise((resolve) => setImmediate(resolve));
      const rerun = await run();
      expect(await held(store)).toBe(0);
      expect(KINDS.reduce((sum, k) => sum + error.counts[k] + rerun[k], 0)).toBe(total);
      if (operation === 'archive') {
        // The batch copied twice is kept once: the archive holds every entry once.
        const uids = (await Promise.all(KINDS.map((k) => entriesOf(archive, k)))).flat().map((e) => (e.entry as { uid?: string }).uid);
        expect(new Set(uids).size).toBe(total);
        expect(uids).toHaveLength(total);
      }
      await logger.close({ timeout: 300 });
      const report = await createActionLogger({ store }).verify({
        keys: [secret],
        ...(operation === 'archive' ? { archives: [archive] } : {}),
      });
      expect(report.status).toBe('intact');
    },
  );

  it('refuses an anchorTimeoutMs a timer cannot wait, naming it', () => {
    for (const anchorTimeoutMs of [0, 2 ** 31]) {
      expect(() => createActionLogger({ store: new MemoryStore(), integrity: { key: secret, anchorTimeoutMs } })).toThrow(
        /integrity\.anchorTimeoutMs: must be at (least 1|most 2147483647)/,
      );
    }
  });
});
