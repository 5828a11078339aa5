import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ActionLogDocument,
  type ActionLogger,
  type ArchiveOptions,
  type ActivityDocument,
  createActionLogger,
  type EntryKind,
  MemoryStore,
  SqlStore,
  type ModelLogDocument,
  type RequestDocument,
  type Store,
  type StoreBatch,
  userIdText,
} from 'actionlog';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectId } from 'mongodb';
import { DataSource } from 'typeorm';
import { failOnWarning } from './matchers.js';
import { action, activity, all, modelLog, requestDoc, type StoreFactory } from './store-contract.js';

const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];
const DAY = 24 * 3600 * 1000;
const ARCHIVE_BEFORE = new Date(Date.UTC(2026, 0, 1, 0, 30));

/** One entry of each kind, at `minutes` past 2026-01-01, expiring at `expiresAt` (none when undefined). */
function batchAt(name: string, minutes: number, expiresAt?: Date): StoreBatch {
  const stamp = <T extends object>(doc: T): T => (expiresAt ? { ...doc, expires_at: expiresAt } : doc);
  const extra = { request_uuid: name, module: 'orders' };
  const request: RequestDocument = stamp(requestDoc(name, minutes));
  const act: ActionLogDocument = stamp({ uid: randomUUID(), ...action(`t_${name}`, minutes), ...extra });
  const change: ModelLogDocument = stamp({ uid: randomUUID(), ...modelLog(name, minutes), ...extra, user: null });
  const feed: ActivityDocument = stamp(activity(`u_${name}`, minutes, name));
  return { requests: [request], actionLogs: [act], modelLogs: [change], activities: [feed] };
}

/** The request ids of the entries of a kind a store returns. */
async function namesOf(store: Store, kind: EntryKind): Promise<string[]> {
  return (await all(store, kind, {}, 'asc')).map((entry) => String((entry as { request_uuid: string | null }).request_uuid)).sort();
}

/** Retention, purge and soft delete, on one store: every store runs it (see `describeStore`). */
export function describeLifecycle(name: string, factory: StoreFactory): void {
  describe(`${name} (retention and soft delete)`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      await store.init?.({ actionLogs: true, modelLogs: true, retention: true, warn: failOnWarning });
    });
    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    it('never returns an expired entry of any kind, in queries, stored order, counts or facets', async () => {
      await store.write(batchAt('gone', 1, new Date(Date.now() - 1000)));
      await store.write(batchAt('kept', 2, new Date(Date.now() + DAY)));
      await store.write(batchAt('plain', 3));
      for (const kind of KINDS) {
        expect(await namesOf(store, kind), kind).toEqual(['kept', 'plain']);
        expect(await store.count(kind, {}), kind).toBe(2);
        // Polled: PostgreSQL's stored order trails the transactions still running on the server (other files').
        const stored = () => store.query({ kind, filter: {}, by: 'stored', order: 'asc', limit: 10 });
        await expect.poll(async () => (await stored()).length, { message: kind, timeout: 20_000, interval: 50 }).toBe(2);
      }
      expect(await store.count('actions', { action_type: 't_gone' })).toBe(0);
      expect((await store.facets({ kind: 'actions', field: 'action_type', filter: {}, limit: 10 })).map((f) => f.value)).toEqual([
        't_kept',
        't_plain',
      ]);
      expect((await store.facets({ kind: 'activities', field: 'actor_id', filter: {}, limit: 10 })).map((f) => f.value)).toEqual([
        'u_kept',
        'u_plain',
      ]);
    });

    it('returns expired entries not deleted yet only with include_expired', async () => {
      await store.write(batchAt('gone', 1, new Date(Date.now() - 1000)));
      await store.write(batchAt('kept', 2, new Date(Date.now() + DAY)));
      for (const kind of KINDS) {
        const page = await store.query({
          kind,
          filter: { include_expired: true, include_inactive: true },
          by: 'time',
          order: 'asc',
          limit: 10,
        });
        const names = page.map((e) => String((e.entry as { request_uuid: string | null }).request_uuid)).sort();
        expect(names, kind).toEqual(['gone', 'kept']);
        expect(await store.count(kind, { include_expired: true }), kind).toBe(2);
        expect(await store.count(kind, {}), kind).toBe(1);
      }
    });

    it('purges expired entries and those older than a date in batches, each kind counted, a rerun finding nothing', async () => {
      for (let i = 0; i < 5; i++) await store.write(batchAt(`x${i}`, i, new Date(Date.now() - 1000)));
      for (let i = 0; i < 3; i++) await store.write(batchAt(`old${i}`, 10 + i));
      await store.write(batchAt('new', 100, new Date(Date.now() + DAY)));
      const purge = store.purge!.bind(store);
      const expiredAt = new Date();
      for (const kind of KINDS) {
        // Batches of 2: 2, 2, 1 expired, then nothing.
        const sizes: number[] = [];
        for (let n = -1; n !== 0;) sizes.push((n = await purge({ kind, expiredAt, limit: 2 })));
        expect(sizes, kind).toEqual([2, 2, 1, 0]);
        expect(await namesOf(store, kind), kind).toEqual(['new', 'old0', 'old1', 'old2']);
        const before = new Date(Date.UTC(2026, 0, 1, 0, 12));
        expect(await purge({ kind, expiredAt, before, limit: 10 }), kind).toBe(2);
        expect(await purge({ kind, expiredAt, before, limit: 10 }), kind).toBe(0);
        expect(await namesOf(store, kind), kind).toEqual(['new', 'old2']);
      }
    });

    it('deactivates an action by its _id: reads leave it out unless include_inactive, an unknown id changes nothing', async () => {
      await store.write(batchAt('a', 1));
      await store.write(batchAt('b', 2));
      const [first] = await all(store, 'actions', {}, 'asc');
      expect(await store.deactivate!(String(first!._id))).toBe(true);
      expect((await all(store, 'actions')).map((a) => a.request_uuid)).toEqual(['b']);
      const both = await all(store, 'actions', { include_inactive: true }, 'asc');
      expect(both.map((a) => [a.request_uuid, a.is_active])).toEqual([
        ['a', false],
        ['b', true],
      ]);
      expect(await store.count('actions', {})).toBe(1);
      expect(await store.deactivate!(String(first!._id))).toBe(true);
      for (const unknown of ['000000000000000000000000', '999999', 'no-such-id']) expect(await store.deactivate!(unknown)).toBe(false);
      expect(await store.count('actions', { include_inactive: true })).toBe(2);
    });
  });

  describe(`${name} (purge and deactivate through the logger)`, () => {
    let store: Store;
    let logger: ActionLogger;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      logger = createActionLogger({
        store,
        flushIntervalMs: 0,
        retentionDays: 30,
        retention: { actionTypes: { login: 7 }, models: { sessions: 1 } },
        onError: (e) => expect.fail(e.message),
      });
      await logger.ready();
    });
    afterEach(async () => {
      await logger.close();
      await cleanup?.();
    });

    it('purges what expired and what is older than before, counting per kind; a second run deletes nothing', async () => {
      for (let i = 0; i < 7; i++) await store.write(batchAt(`x${i}`, i, new Date(Date.now() - 1000)));
      await store.write(batchAt('old', 10));
      await store.write(batchAt('new', 20, new Date(Date.now() + DAY)));
      const batches: string[] = [];
      const onBatch = (kind: string, count: number) => batches.push(`${kind} ${count}`);
      expect(await logger.purge({ batchSize: 3, onBatch })).toEqual({ requests: 7, actions: 7, changes: 7, activities: 7, attachments: 0 });
      expect(batches).toEqual(KINDS.flatMap((kind) => [`${kind} 3`, `${kind} 3`, `${kind} 1`]));
      expect(await logger.purge({ before: new Date(Date.UTC(2026, 0, 1, 0, 15)) })).toEqual({
        requests: 1,
        actions: 1,
        changes: 1,
        activities: 1,
        attachments: 0,
      });
      expect(await logger.purge({ before: '2026-01-01T00:15:00Z' })).toEqual({
        requests: 0,
        actions: 0,
        changes: 0,
        activities: 0,
        attachments: 0,
      });
      expect(await logger.count({ kind: 'changes' })).toBe(1);
    });

    it('keeps actions and changes by their own action type or model retention, the request document as long as its longest', async () => {
      const daysAgo = (n: number) => new Date(Date.now() - n * DAY);
      await logger.run({ user: 'u1' }, () => {
        logger.record({ action: 'login', emitted_at: daysAgo(8) });
        logger.record({ action: 'approve', emitted_at: daysAgo(8) });
        for (const [model, days] of [
          ['sessions', 2],
          ['orders', 2],
        ] as const) {
          logger.recordModelChange({
            action: 'Created',
            model,
            model_class_name: model,
            model_namespace: model,
            model_id: '1',
            old_object: null,
            new_object: { id: 1 },
            timestamp: daysAgo(days),
          });
        }
      });
      await logger.flush();
      // login (7 days) and the sessions change (1 day) have expired; approve and orders keep retentionDays (30).
      expect((await logger.query({ kind: 'actions' })).items.map((a) => a.action_type)).toEqual(['approve']);
      expect((await logger.query({ kind: 'changes' })).items.map((c) => c.model)).toEqual(['orders']);
      expect(await logger.count({ kind: 'requests' })).toBe(1);
      expect(await logger.purge()).toEqual({ requests: 0, actions: 1, changes: 1, activities: 0, attachments: 0 });
    });

    it('deactivates an entry by the _id a read gave, and records who did it and why', async () => {
      await logger.run({ user: { id: 'u1', name: 'Ada' } }, () => {
        logger.record({ action: 'approve', target: { type: 'loan', id: 7 } });
      });
      await logger.flush();
      const [entry] = (await logger.query({ kind: 'actions' })).items;
      await logger.run({ user: { id: 'admin', name: 'Root' } }, () => logger.deactivate(entry!._id, { reason: 'entered twice' }));
      await logger.flush();
      expect((await logger.query({ kind: 'actions', action_type: 'approve' })).items).toEqual([]);
      const [hidden] = (await logger.query({ kind: 'actions', action_type: 'approve', include_inactive: true })).items;
      expect(hidden).toMatchObject({ action_type: 'approve', is_active: false, target_id: '7' });
      const [record] = (await logger.query({ kind: 'actions', action_type: 'deactivate' })).items;
      expect(record).toMatchObject({
        action_category: 'actionlog',
        actor_id: 'admin',
        target_type: 'action_log',
        target_id: String(entry!._id),
        note: 'entered twice',
        is_active: true,
      });
      await expect(logger.deactivate('000000000000000000000000', { reason: 'x', actor: 'a' })).rejects.toMatchObject({
        name: 'ActionLogValidationError',
        issues: [{ path: 'entryId' }],
      });
    });

    /** Old (before 00:30) and expired entries to archive, one that stays; `remove` of the source killed at its 2nd call. */
    async function archiveKilledMidway(to: ArchiveOptions['to']): Promise<void> {
      for (let i = 0; i < 5; i++) await store.write(batchAt(`old${i}`, i));
      for (let i = 0; i < 2; i++) await store.write(batchAt(`x${i}`, 100 + i, new Date(Date.now() - 1000)));
      await store.write(batchAt('new', 200, new Date(Date.now() + DAY)));
      const remove = store.remove!.bind(store);
      let calls = 0;
      store.remove = async (kind, ids) => {
        if (++calls === 2) throw new Error('killed between the copy and the delete');
        return remove(kind, ids);
      };
      await expect(logger.archive({ before: ARCHIVE_BEFORE, to, batchSize: 3 })).rejects.toThrow('killed');
      store.remove = remove;
      const batches: string[] = [];
      const onBatch = (kind: string, count: number) => batches.push(`${kind} ${count}`);
      const moved = await logger.archive({ before: ARCHIVE_BEFORE, to, batchSize: 3, onBatch });
      // The first run moved 3 requests; the rerun the other 4, and all 7 of every other kind.
      expect(moved).toEqual({ requests: 4, actions: 7, changes: 7, activities: 7 });
      expect(batches).toEqual(['requests 3', 'requests 1', ...KINDS.slice(1).flatMap((kind) => [`${kind} 3`, `${kind} 3`, `${kind} 1`])]);
      expect(await logger.archive({ before: ARCHIVE_BEFORE, to })).toEqual({ requests: 0, actions: 0, changes: 0, activities: 0 });
      for (const kind of KINDS) {
        expect(await namesOf(store, kind), kind).toEqual(['new']);
        expect(await store.count(kind, { purgeable: { expiredAt: new Date(), before: new Date(8e15) } }), kind).toBe(1);
      }
    }

    it('archives old and expired entries to another store; killed midway and rerun, each entry ends up once', async () => {
      const archive = new MemoryStore();
      await archiveKilledMidway(archive);
      const moved = ['old0', 'old1', 'old2', 'old3', 'old4', 'x0', 'x1'];
      // The archive keeps what it is given: the copies have no expires_at.
      for (const kind of KINDS) expect(await namesOf(archive, kind), kind).toEqual(moved);
      const [request] = await all(archive, 'requests', { request_uuid: 'x0' });
      expect(request).toMatchObject({ uid: 'uid-x0', details: { request: { method: 'POST' } } });
      expect(request).not.toHaveProperty('expires_at');
    });

    it('archives to a SQL store; killed midway and rerun, each entry ends up once (copies keep their uid)', async () => {
      const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
      await dataSource.initialize();
      const archive = new SqlStore({ dataSource });
      try {
        await archive.init({ actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning });
        await archiveKilledMidway(archive);
        const moved = ['old0', 'old1', 'old2', 'old3', 'old4', 'x0', 'x1'];
        for (const kind of KINDS) expect(await namesOf(archive, kind), kind).toEqual(moved);
      } finally {
        await archive.close();
        await dataSource.destroy();
      }
    });

    it('archives to a file of JSON lines; killed after a flush and rerun, a batch at most is there twice, with the same ids', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'actionlog-archive-'));
      try {
        const file = join(dir, 'archive.jsonl');
        const out = createWriteStream(file);
        await archiveKilledMidway(out);
        await new Promise((resolve) => out.end(resolve));
        const lines = (await readFile(file, 'utf8'))
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { kind: EntryKind; _id: string; entry: { request_uuid: string } });
        const unique = new Map(lines.map((line) => [`${line.kind}/${line._id}`, line]));
        // The killed run's second batch of requests was flushed but not deleted: written again by the rerun.
        expect(lines.length - unique.size).toBe(3);
        for (const kind of KINDS) {
          const names = [...unique.values()].filter((line) => line.kind === kind).map((line) => line.entry.request_uuid);
          expect(names.sort(), kind).toEqual(['old0', 'old1', 'old2', 'old3', 'old4', 'x0', 'x1']);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("keeps a user reference's id type (a number stays one, an ObjectId reads back as its hex or itself); actor_id finds it by text", async () => {
      const objectId = new ObjectId();
      const hex = objectId.toHexString();
      await logger.run({ user: { id: 42, name: 'Ada' } }, () => {
        logger.recordModelChange({
          action: 'Created',
          model: 'orders',
          model_class_name: 'Order',
          model_namespace: 'orders',
          model_id: '1',
          old_object: null,
          new_object: { id: 1 },
        });
        logger.activity({ action: 'Logged in' });
      });
      await logger.run({ user: objectId }, () => {
        logger.activity({ action: 'Viewed', user: { lookup_from: 'users', _id: objectId, label: 'Bo' } });
      });
      await logger.flush();
      const requestsBy = async (actor: string | number) => (await logger.query({ kind: 'requests', actor_id: actor })).items;
      const changesBy = async (actor: string | number) => (await logger.query({ kind: 'changes', actor_id: actor })).items;
      const activitiesBy = async (actor: string | number) => (await logger.query({ kind: 'activities', actor_id: actor })).items;
      const [request] = await requestsBy(42);
      expect(request?.details.run?.user_details).toEqual({ lookup_from: 'users', _id: 42, label: 'Ada' });
      expect((await changesBy('42')).map((c) => c.user)).toEqual([{ lookup_from: 'users', _id: 42, label: 'Ada' }]);
      expect((await activitiesBy(42)).map((a) => a.user._id)).toEqual([42]);
      // An ObjectId stays one where the store has them (MongoDB, memory); JSON keeps its hex (SQL).
      const [byObjectId] = await requestsBy(hex);
      expect(userIdText(byObjectId!.details.run!.user_details!._id)).toBe(hex);
      const [viewed] = await activitiesBy(hex);
      expect(viewed).toMatchObject({ action: 'Viewed', user: { lookup_from: 'users', label: 'Bo' } });
      expect(userIdText(viewed!.user._id)).toBe(hex);
      expect(await logger.count({ kind: 'activities', actor_id: hex })).toBe(1);
      expect(await logger.count({ kind: 'activities', actor_id: '43' })).toBe(0);
      const facets = await logger.facets('actor_id', { kind: 'activities' });
      expect(facets.items.map((f) => f.value).sort()).toEqual(['42', hex].sort());
    });
  });
}
