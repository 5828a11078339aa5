import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failOnWarning } from './matchers.js';
import { mongoKind } from './mongo-db.js';
import type {
  ActionEntry,
  ActionLogDocument,
  ActivityDocument,
  CheckpointDocument,
  EntryKind,
  EntryOf,
  EntryPosition,
  ModelLog,
  ModelLogDocument,
  RequestAppend,
  RequestDocument,
  SortOrder,
  Store,
  StoreBatch,
  StoredEntry,
  StoreFilter,
  StoreQuery,
} from 'actionlog';
import { userIdText } from 'actionlog';
import { describeLatestActions } from './latest-contract.js';
import { describeAttachments } from './attachment-contract.js';
import { describeLifecycle } from './lifecycle-contract.js';
import { describeReadSide } from './read-contract.js';

/**
 * Makes an empty store for one test, and cleans it up afterwards. `nowTrailsRunningTransactions`: its stored order
 * reads only below the oldest transaction still running on the server (PostgreSQL), so a tail from now may begin
 * with entries stored just before it, while another database of the server has a transaction open.
 */
export type StoreFactory = () => Promise<{ store: Store; cleanup?: () => Promise<void>; nowTrailsRunningTransactions?: boolean }>;

/**
 * A stored-order query once it shows `expected` (as `name` reads each entry). PostgreSQL's stored order reads only
 * below the oldest transaction still running on the server, and another test file's may be running for a moment.
 */
export async function storedOnceVisible<K extends EntryKind>(
  store: Store,
  query: StoreQuery<K>,
  name: (entry: EntryOf[K]) => string,
  expected: string[],
): Promise<Array<StoredEntry<K>>> {
  let found: Array<StoredEntry<K>> = [];
  await expect
    .poll(async () => (found = await store.query<K>(query)).map((s) => name(s.entry)), {
      timeout: 20_000,
      interval: 50,
    })
    .toEqual(expected);
  return found;
}

const T0 = Date.UTC(2026, 0, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

export function modelLog(id: string, minutes = 0, extra: Partial<ModelLog> = {}): ModelLog {
  return {
    model_id: id,
    model_class_name: 'Order',
    model_namespace: 'shop.orders',
    model: 'orders',
    action: 'Updated',
    timestamp: at(minutes),
    model_details: { old_object: { _id: id, status: 'new' }, new_object: { _id: id, status: 'paid' }, changed_fields: ['status'] },
    ...extra,
  };
}

export function action(type: string, minutes = 0, extra: Partial<ActionEntry> = {}): ActionEntry {
  return {
    action_type: type,
    action_category: null,
    actor_id: 'u1',
    actor: { ref: 'u1', type: 'user', name: 'Ada' },
    target_type: 'loan',
    target_id: '981',
    target: { type: 'loan', id: '981', name: 'Loan #981' },
    context: { branch: 'north' },
    note: null,
    source: null,
    details: [{ name: 'due_days', value: 14, type: 'integer' }],
    tags: [{ type: 'vip' }],
    entity_path: null,
    emitted_at: at(minutes),
    saved_at: at(minutes),
    is_active: true,
    ...extra,
  };
}

/** A request document; its `uid` (the server's id) is `uid-<uuid>` unless given. */
export function requestDoc(uuid: string, minutes = 0, extra: Partial<RequestDocument> = {}): RequestDocument {
  return {
    uid: `uid-${uuid}`,
    request_uuid: uuid,
    module: 'orders',
    timestamp: at(minutes),
    details: {
      request: {
        method: 'POST',
        url: '/orders/1?x=1',
        route: '/orders/:id',
        ip: '127.0.0.1',
        user_agent: 'spec',
        body: { item: 'book', qty: 2, tags: ['a', 'b'], nested: { deep: { ok: true } }, none: null },
        headers: { 'content-type': 'application/json', authorization: '[REDACTED]' },
        user_details: { lookup_from: 'users', _id: 'u1', label: 'Ada', email: 'ada@example.test' },
      },
      response: { status_code: 201, duration_ms: 12.5, aborted: false },
      model_logs: [modelLog('1', minutes)],
      actions: [action('checkout', minutes)],
    },
    ...extra,
  };
}

function mirrorsOf(doc: RequestDocument): Pick<StoreBatch, 'actionLogs' | 'modelLogs'> {
  const extra = { request_uuid: doc.request_uuid, module: doc.module };
  const user = doc.details.request?.user_details ?? doc.details.run?.user_details ?? null;
  return {
    actionLogs: doc.details.actions.map((a): ActionLogDocument => ({ uid: randomUUID(), ...a, ...extra })),
    modelLogs: doc.details.model_logs.map((m): ModelLogDocument => ({ uid: randomUUID(), ...m, ...extra, user })),
  };
}

/** Every entry of a kind that matches, in time order (newest first unless asked). */
export async function all<K extends EntryKind>(
  store: Store,
  kind: K,
  filter: StoreFilter = {},
  order: SortOrder = 'desc',
  limit = 1000,
): Promise<Array<EntryOf[K]>> {
  return (await store.query({ kind, filter, by: 'time', order, limit })).map((found) => found.entry);
}

export function batchOf(docs: RequestDocument[], activities: ActivityDocument[] = []): StoreBatch {
  const mirrors = docs.map(mirrorsOf);
  return { requests: docs, actionLogs: mirrors.flatMap((m) => m.actionLogs), modelLogs: mirrors.flatMap((m) => m.modelLogs), activities };
}

/** Late events for the document of `uuid` (by its uid, `uid-<uuid>`, unless another is given). */
function append(uuid: string, logs: ModelLog[], actions: ActionEntry[] = [], spilled = 0, uid = `uid-${uuid}`): RequestAppend {
  return {
    append_id: randomUUID(),
    uid,
    request_uuid: uuid,
    module: 'orders',
    model_logs: logs,
    actions,
    model_logs_spilled: spilled,
    actions_spilled: 0,
  };
}

export function activity(user: string, minutes: number, uuid: string | null = null): ActivityDocument {
  return {
    uid: randomUUID(),
    user: { lookup_from: 'users', _id: user, label: `User ${user}` },
    ip_address: '10.0.0.1',
    action: 'Logged in',
    activity_date: at(minutes),
    link_preview: null,
    request_uuid: uuid,
  };
}

/** Entries as the builder makes them: each with a uid of its own. */
function withUids<T extends { uid?: string }>(entries: T[]): T[] {
  return entries.map((entry) => ({ uid: randomUUID(), ...entry }));
}

/** Documents compare without the ids a store assigns. */
function withoutId<T extends { _id?: unknown }>(doc: T): Omit<T, '_id'> {
  const { _id, ...rest } = doc;
  return rest;
}

/** Stores in order of arrival. Late events may arrive before their document. */
export function describeStore(name: string, factory: StoreFactory): void {
  describeReadSide(name, factory);
  describeLifecycle(name, factory);
  describeLatestActions(name, factory);
  describeAttachments(name, factory);
  describe(`${name} (Store contract)`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      await store.init?.({ actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning });
    });
    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    it('reads back a request document as written', async () => {
      const doc = requestDoc('r1');
      doc.correlation_id = 'corr-1';
      doc.details.actions.push(
        action('approve', 0, {
          action_category: 'loans',
          note: 'ok',
          source: { type: 'api' },
          entity_path: [{ ref: 'b', name: 'B' }],
          is_active: false,
        }),
      );
      const run = requestDoc('r2', 1, { module: 'jobs' });
      run.details.request = null;
      run.details.response = null;
      run.details.run = { user_details: null, metadata: { batch: 3 }, duration_ms: 5, error: { name: 'Error', message: 'x' } };
      await store.write(batchOf([structuredClone(doc), structuredClone(run)]));
      const [r1] = await all(store, 'requests', { request_uuid: 'r1' });
      expect(withoutId(r1!)).toEqual(doc);
      const [r2] = await all(store, 'requests', { request_uuid: 'r2' });
      expect(withoutId(r2!)).toEqual(run);
    });

    it('stores a retried batch once, also when part of it was already stored', async () => {
      const first = batchOf([requestDoc('a'), requestDoc('b')], [activity('u1', 0)]);
      await store.write(first);
      await store.write(first);
      // A retry hands over the very same objects; here with one new document beside them.
      const c = batchOf([requestDoc('c')]);
      await store.write({
        requests: [first.requests[1]!, ...c.requests],
        actionLogs: [...first.actionLogs, ...c.actionLogs],
        modelLogs: [...first.modelLogs, ...c.modelLogs],
        activities: first.activities,
      });
      expect((await all(store, 'requests')).map((d) => d.request_uuid).sort()).toEqual(['a', 'b', 'c']);
      expect(await all(store, 'actions')).toHaveLength(3);
      expect(await all(store, 'changes')).toHaveLength(3);
      expect(await all(store, 'activities')).toHaveLength(1);
    });

    it('stores an entry once when it comes again as another object with its uid (a replay, an archive copy)', async () => {
      const first = batchOf([requestDoc('a')], [activity('u1', 0)]);
      const again = structuredClone(first);
      await store.write(first);
      await store.write(again);
      expect(await all(store, 'requests')).toHaveLength(1);
      const actions = await all(store, 'actions');
      expect(actions.map((a) => a.uid)).toEqual(first.actionLogs.map((a) => a.uid));
      expect((await all(store, 'changes')).map((c) => c.uid)).toEqual(first.modelLogs.map((c) => c.uid));
      expect((await all(store, 'activities')).map((a) => a.uid)).toEqual([first.activities[0]!.uid]);
    });

    it('appends late events to their document, in order, once per append', async () => {
      await store.write(batchOf([requestDoc('r1')]));
      const late = append('r1', [modelLog('2', 1), modelLog('3', 2)], [action('notify', 3)]);
      await store.append([late]);
      await store.append([late]);
      await store.append([append('r1', [modelLog('4', 4)])]);
      const [doc] = await all(store, 'requests', { request_uuid: 'r1' });
      expect(doc!.details.model_logs.map((m) => m.model_id)).toEqual(['1', '2', '3', '4']);
      expect(doc!.details.actions.map((a) => a.action_type)).toEqual(['checkout', 'notify']);
      expect(doc!.details.model_logs[1]!.timestamp).toEqual(at(1));
    });

    it('keeps late events that arrive before their document, and puts the document first when it comes', async () => {
      const early = append('r1', [modelLog('late', 5)], [action('late_action', 5)], 2);
      await store.append([early]);
      await store.append([early]);
      const doc = requestDoc('r1');
      doc.details.model_logs_spilled = 1;
      const batch = batchOf([doc]);
      await store.write(batch);
      await store.write(batch);
      const docs = await all(store, 'requests', { request_uuid: 'r1' });
      expect(docs).toHaveLength(1);
      const merged = docs[0]!;
      expect(merged.timestamp).toEqual(at(0));
      expect(merged.details.request?.url).toBe('/orders/1?x=1');
      expect(merged.details.model_logs.map((m) => m.model_id)).toEqual(['1', 'late']);
      expect(merged.details.actions.map((a) => a.action_type)).toEqual(['checkout', 'late_action']);
      expect(merged.details.model_logs_spilled).toBe(3);
    });

    it('keeps the links of late appends, also of those that arrive before their document, beside its own', async () => {
      const link = (seq: number) => ({ chain: 'c1', seq, prev: String(seq - 1).padStart(64, '0'), hash: String(seq).padStart(64, '0') });
      const appendLink = (seq: number, id: string) => ({
        ...link(seq),
        append_id: id,
        model_logs: 1,
        actions: 0,
        model_logs_spilled: 0,
        actions_spilled: 0,
      });
      const early = { ...append('r1', [modelLog('early', 5)]), integrity: appendLink(2, 'a-early') };
      await store.append([early]);
      const doc = { ...requestDoc('r1'), integrity: link(1) };
      await store.write(batchOf([doc]));
      const later = { ...append('r1', [modelLog('later', 6)]), integrity: appendLink(3, 'a-later') };
      await store.append([later]);
      await store.append([later]);
      const [read] = await all(store, 'requests', { request_uuid: 'r1' });
      expect(read!.integrity).toEqual({ ...link(1), appends: [early.integrity, later.integrity] });
      expect(read!.details.model_logs.map((m) => m.model_id)).toEqual(['1', 'early', 'later']);
    });

    it('stores a checkpoint once per uid, and pages every one back as written', async () => {
      const target = store;
      if (!target.writeCheckpoint || !target.checkpoints) throw new Error('every store of the package keeps checkpoints');
      const write = (c: CheckpointDocument) => target.writeCheckpoint?.(c);
      const page = async (q: { limit: number; after?: string }) => (await target.checkpoints?.(q)) ?? [];
      const checkpoint = (n: number): CheckpointDocument => ({
        uid: `w1:${n}`,
        chain: 'w1',
        number: n,
        at: at(n),
        heads: [{ chain: 'w1', seq: n * 10, hash: 'a'.repeat(64) }],
        merkle_root: 'b'.repeat(64),
        from_seq: n * 10 - 9,
        pruned: n === 2 ? [{ chain: 'w0', from: 1, to: 4 }] : [],
        closed: n === 3,
        prev: 'c'.repeat(64),
        hash: 'd'.repeat(64),
        signature: { alg: 'ed25519', key_id: 'ed25519:0123', value: 'c2ln' },
      });
      await write(checkpoint(1));
      await write(checkpoint(1));
      await write(checkpoint(2));
      await write(checkpoint(3));
      const first = await page({ limit: 2 });
      const rest = await page({ limit: 2, after: first.at(-1)!.id });
      const read = [...first, ...rest].map(({ checkpoint: { _id, ...c } }) => c).sort((a, b) => a.number - b.number);
      expect(read).toEqual([checkpoint(1), checkpoint(2), checkpoint(3)]);
    });

    it('answers a ping', async () => {
      await expect(store.ping?.() ?? Promise.resolve()).resolves.toBeUndefined();
    });

    it('keeps requests claiming the same request id apart: in one batch, across batches, and for their late events', async () => {
      const first = requestDoc('same', 1, { uid: 'uid-a' });
      const second = requestDoc('same', 2, { uid: 'uid-b', module: 'billing' });
      await store.write(batchOf([first, second]));
      await store.write(batchOf([requestDoc('same', 3, { uid: 'uid-c' })]));
      await store.append([append('same', [modelLog('late-b', 4)], [], 0, 'uid-b')]);
      const docs = await all(store, 'requests', { request_uuid: 'same' }, 'asc');
      expect(docs.map((d) => [d.uid, d.module, d.details.model_logs.map((m) => m.model_id)])).toEqual([
        ['uid-a', 'orders', ['1']],
        ['uid-b', 'billing', ['1', 'late-b']],
        ['uid-c', 'orders', ['1']],
      ]);
    });

    it('reads escaped keys back as they were sent', async () => {
      const doc = requestDoc('r1');
      doc.details.request!.body = { '%24where': 'x', 'a%2Eb': { '%24in': [1] }, '100%25': 1, '%5F_proto__': { polluted: true } };
      await store.write(batchOf([doc]));
      const [back] = await all(store, 'requests', { request_uuid: 'r1' });
      const body = back!.details.request!.body as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['$where', '100%', '__proto__', 'a.b']);
      expect(body['a.b']).toEqual({ $in: [1] });
      expect(Object.getOwnPropertyDescriptor(body, '__proto__')?.value).toEqual({ polluted: true });
      expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    });

    it('finds requests by id, module, correlation, user, model, record, method, route, status and time', async () => {
      const docs = [
        requestDoc('r1', 1),
        requestDoc('r2', 2, { module: 'billing', correlation_id: 'c-1' }),
        requestDoc('r3', 3),
        requestDoc('r4', 4),
      ];
      docs[2]!.details.request!.user_details = { lookup_from: 'users', _id: 'u2', label: 'Bo' };
      docs[2]!.details.request!.method = 'DELETE';
      docs[2]!.details.request!.route = '/orders/:id/lines';
      docs[2]!.details.response!.status_code = 404;
      docs[3]!.details.request = null;
      docs[3]!.details.response = null;
      docs[3]!.details.run = {
        user_details: { lookup_from: 'users', _id: 'u2', label: 'Bo' },
        metadata: null,
        duration_ms: 1,
        error: null,
      };
      docs[3]!.details.model_logs = [modelLog('9', 4, { model: 'customers', model_class_name: 'Customer' })];
      await store.write(batchOf(docs));
      const ids = async (filter: StoreFilter, order: SortOrder = 'desc') =>
        (await all(store, 'requests', filter, order)).map((d) => d.request_uuid);
      expect(await ids({})).toEqual(['r4', 'r3', 'r2', 'r1']);
      expect(await ids({}, 'asc')).toEqual(['r1', 'r2', 'r3', 'r4']);
      expect(await ids({ request_uuid: 'r3' })).toEqual(['r3']);
      expect(await ids({ module: 'billing' })).toEqual(['r2']);
      expect(await ids({ correlation_id: 'c-1' })).toEqual(['r2']);
      expect(await ids({ actor_id: 'u2' })).toEqual(['r4', 'r3']);
      expect(await ids({ model: 'customers' })).toEqual(['r4']);
      expect(await ids({ model: 'orders', model_id: '1' })).toEqual(['r3', 'r2', 'r1']);
      expect(await ids({ model_id: '9' })).toEqual(['r4']);
      expect(await ids({ method: 'DELETE' })).toEqual(['r3']);
      expect(await ids({ route: '/orders/:id' })).toEqual(['r2', 'r1']);
      expect(await ids({ status: 404 })).toEqual(['r3']);
      expect(await ids({ status: 201, method: 'POST' })).toEqual(['r2', 'r1']);
      expect(await ids({ from: at(2), to: at(3) })).toEqual(['r3', 'r2']);
      expect(await store.count('requests', { actor_id: 'u1' })).toBe(2);
    });

    it('finds actions by actor, type, category, target, tags, entity path, custom fields, words and time, hiding inactive ones unless asked', async () => {
      const extra = { request_uuid: 'r1', module: 'loans' };
      const actions = withUids<ActionLogDocument>([
        {
          ...action('approve', 1, { action_category: 'loans', note: 'Manual override approved by the supervisor' }),
          ...extra,
          correlation_id: 'c-9',
        },
        {
          ...action('approve', 2, {
            actor_id: 'u2',
            actor: { ref: 'u2', type: 'user', name: 'Bo Ström', extra: { team: 'north' } },
            tags: [{ type: 'vip', ref: 'gold', name: 'Gold' }, { type: 'audit' }],
            source: { type: 'api', ref: 'mobile' },
          }),
          ...extra,
        },
        {
          ...action('reject', 3, {
            target_type: 'car',
            target_id: '7',
            target: { type: 'car', id: '7', name: 'Red convertible' },
            entity_path: [
              { ref: 'org-1', name: 'Org' },
              { ref: 'branch-4', name: 'Branch' },
            ],
            details: [
              { name: 'due_days', value: 30, type: 'integer' },
              { name: 'reason', value: 'late', type: 'string' },
            ],
          }),
          ...extra,
        },
        { ...action('approve', 4, { is_active: false }), ...extra, request_uuid: 'r2' },
      ]);
      const expected = structuredClone(actions[0]);
      await store.write({ requests: [], actionLogs: actions, modelLogs: [], activities: [] });
      const types = async (filter: StoreFilter, order: SortOrder = 'desc') =>
        (await all(store, 'actions', filter, order)).map((a) => `${a.action_type}@${(a.emitted_at.getTime() - T0) / 60_000}`);
      expect(await types({})).toEqual(['reject@3', 'approve@2', 'approve@1']);
      expect(await types({ include_inactive: true }, 'asc')).toEqual(['approve@1', 'approve@2', 'reject@3', 'approve@4']);
      expect(await types({ actor_id: 'u1', action_type: 'approve' })).toEqual(['approve@1']);
      expect(await types({ action_category: 'loans' })).toEqual(['approve@1']);
      expect(await types({ correlation_id: 'c-9' })).toEqual(['approve@1']);
      expect(await types({ target_type: 'car', target_id: '7' })).toEqual(['reject@3']);
      expect(await types({ request_uuid: 'r2', include_inactive: true })).toEqual(['approve@4']);
      expect(await types({ from: at(2), to: at(3) })).toEqual(['reject@3', 'approve@2']);
      expect(await types({ tag_type: 'vip' })).toEqual(['reject@3', 'approve@2', 'approve@1']);
      expect(await types({ tag_type: 'vip', tag_ref: 'gold' })).toEqual(['approve@2']);
      expect(await types({ tag_type: 'audit' })).toEqual(['approve@2']);
      expect(await types({ entity_ref: 'branch-4' })).toEqual(['reject@3']);
      expect(await types({ entity_ref: 'org-1' })).toEqual(['reject@3']);
      expect(await types({ custom: [{ in: 'details', name: 'due_days', value: 30 }] })).toEqual(['reject@3']);
      expect(await types({ custom: [{ in: 'details', name: 'due_days', value: 14 }] })).toEqual(['approve@2', 'approve@1']);
      expect(
        await types({
          custom: [
            { in: 'details', name: 'due_days', value: 30 },
            { in: 'details', name: 'reason', value: 'late' },
          ],
        }),
      ).toEqual(['reject@3']);
      expect(await types({ custom: [{ in: 'details', name: 'due_days', value: '30' }] })).toEqual([]);
      expect(await types({ custom: [{ in: 'source', name: 'ref', value: 'mobile' }] })).toEqual(['approve@2']);
      expect(await types({ custom: [{ in: 'actor.extra', name: 'team', value: 'north' }] })).toEqual(['approve@2']);
      expect(await store.count('actions', { action_type: 'approve' })).toBe(2);
      expect(await store.count('actions', { action_type: 'approve', include_inactive: true })).toBe(3);
      const [full] = await all(store, 'actions', { action_category: 'loans' });
      expect(withoutId(full!)).toEqual(expected);
    });

    it('matches a custom field by a value of the same type: a list holding the value is not it', async () => {
      const extra = { request_uuid: 'r1', module: 'loans' };
      const details = (value: unknown) => [{ name: 'colors', value, type: 'string' }];
      await store.write({
        requests: [],
        actionLogs: [
          { ...action('listed', 1, { details: { colors: ['red', 'blue'] } as never }), ...extra },
          { ...action('single', 2, { details: { colors: 'red' } as never }), ...extra },
          { ...action('listed', 3, { details: details(['red']) as never }), ...extra },
          { ...action('single', 4, { details: details('red') as never }), ...extra },
        ],
        modelLogs: [],
        activities: [],
      });
      const found = await all(store, 'actions', { custom: [{ in: 'details', name: 'colors', value: 'red' }] }, 'asc');
      expect(found.map((a) => `${a.action_type}@${(a.emitted_at.getTime() - T0) / 60_000}`)).toEqual(['single@2', 'single@4']);
    });

    it('finds actions by words of their note and names, where the store indexes text', async () => {
      const extra = { request_uuid: 'r1', module: 'loans' };
      const actions: ActionLogDocument[] = [
        { ...action('approve', 1, { note: 'Manual override approved by the supervisor' }), ...extra },
        { ...action('approve', 2, { actor: { ref: 'u2', type: 'user', name: 'Bo Ström' } }), ...extra },
        { ...action('reject', 3, { target: { type: 'car', id: '7', name: 'Red convertible' } }), ...extra },
        { ...action('refund', 4, { note: 'Sent to alice@example.com for order-17 (v2.1.3, shop.example.com/r/9)' }), ...extra },
        { ...action('greet', 5, { note: 'नमस्ते दुनिया' }), ...extra },
        { ...action('greet', 6, { note: 'สวัสดี ครับ' }), ...extra },
      ];
      await store.write({ requests: [], actionLogs: actions, modelLogs: [], activities: [] });
      const words = async (q: string) => (await all(store, 'actions', { q })).map((a) => (a.emitted_at.getTime() - T0) / 60_000);
      expect(await words('override')).toEqual([1]);
      expect(await words('supervisor manual')).toEqual([1]);
      expect(await words('convertible')).toEqual([3]);
      expect(await words('ström')).toEqual([2]);
      expect(await words('override convertible')).toEqual([]);
      // Words of an email, a host, a version or a path, as of any text (PostgreSQL's parser keeps those whole).
      expect(await words('alice')).toEqual([4]);
      expect(await words('alice@example.com')).toEqual([4]);
      expect(await words('example.com order 17')).toEqual([4]);
      expect(await words('v2.1.3')).toEqual([4]);
      expect(await words('r/9 shop')).toEqual([4]);
      // Words with the marks written in them (a vowel sign of Devanagari, of Thai), found by that very word.
      expect(await words('दुनिया')).toEqual([5]);
      expect(await words('ครับ')).toEqual([6]);
      // No letter or digit: no word, so no condition.
      expect(await words('€ --')).toEqual([6, 5, 4, 3, 2, 1]);
    });

    it('finds changes by request, model, record, action, changed field, user, correlation and time, summaries by a null id', async () => {
      const user = { lookup_from: 'users', _id: 'u2', label: 'Bo' };
      const logs = withUids<ModelLogDocument>([
        { ...modelLog('1', 1, { action: 'Created' }), request_uuid: 'r1', module: 'm', user: null },
        { ...modelLog('2', 2), request_uuid: 'r1', module: 'm', user, correlation_id: 'c-1' },
        { ...modelLog('1', 3, { model: 'customers', model_class_name: 'Customer' }), request_uuid: 'r2', module: 'm', user },
        {
          ...modelLog('x', 4, {
            model_id: null,
            truncated: true,
            model_details: {
              old_object: null,
              new_object: null,
              changed_fields: [],
              query: { filter: { a: 1 }, update: { $set: { b: 2 } }, matched: 5000 },
            },
          }),
          request_uuid: 'r3',
          module: 'm',
          user: null,
        },
      ]);
      logs[1]!.model_details.changed_fields = ['status', 'address.city'];
      const expected = structuredClone(logs[2]);
      await store.write({ requests: [], actionLogs: [], modelLogs: logs, activities: [] });
      const keys = async (filter: StoreFilter, order: SortOrder = 'desc') =>
        (await all(store, 'changes', filter, order)).map((l) => `${l.model}/${l.model_id}`);
      expect(await keys({}, 'asc')).toEqual(['orders/1', 'orders/2', 'customers/1', 'orders/null']);
      expect(await keys({ request_uuid: 'r1' })).toEqual(['orders/2', 'orders/1']);
      expect(await keys({ model: 'orders', model_id: '1' })).toEqual(['orders/1']);
      expect(await keys({ model: 'orders', model_id: null })).toEqual(['orders/null']);
      expect(await keys({ action: 'Created' })).toEqual(['orders/1']);
      expect(await keys({ changed_field: 'address.city' })).toEqual(['orders/2']);
      expect(await keys({ changed_field: 'address' })).toEqual([]);
      expect(await keys({ actor_id: 'u2' })).toEqual(['customers/1', 'orders/2']);
      expect(await keys({ correlation_id: 'c-1' })).toEqual(['orders/2']);
      expect(await keys({ from: at(2), to: at(3) })).toEqual(['customers/1', 'orders/2']);
      const [first] = await all(store, 'changes', { model: 'customers' });
      expect(withoutId(first!)).toEqual(expected);
      const [summary] = await all(store, 'changes', { model_id: null });
      expect(summary!.truncated).toBe(true);
      expect(summary!.model_details.query).toEqual({ filter: { a: 1 }, update: { $set: { b: 2 } }, matched: 5000 });
    });

    it('finds activities by user, request and time', async () => {
      await store.write({
        requests: [],
        actionLogs: [],
        modelLogs: [],
        activities: [activity('u1', 1, 'r1'), activity('u2', 2), activity('u1', 3)],
      });
      const rows = async (filter: StoreFilter, order: SortOrder = 'desc') =>
        (await all(store, 'activities', filter, order)).map(
          (a) => `${userIdText(a.user._id)}@${(a.activity_date.getTime() - T0) / 60_000}`,
        );
      expect(await rows({})).toEqual(['u1@3', 'u2@2', 'u1@1']);
      expect(await rows({ actor_id: 'u1' }, 'asc')).toEqual(['u1@1', 'u1@3']);
      expect(await rows({ request_uuid: 'r1' })).toEqual(['u1@1']);
      expect(await rows({ to: at(2) })).toEqual(['u2@2', 'u1@1']);
      const [one] = await all(store, 'activities', { request_uuid: 'r1' });
      expect(withoutId(one!)).toEqual({ ...activity('u1', 1, 'r1'), uid: one!.uid });
    });

    it('pages by keyset in both orders, ties in time broken by id: every entry once, in order', async () => {
      // 30 actions over 6 distinct times: ties everywhere.
      const actions = Array.from({ length: 30 }, (_, i): ActionLogDocument => ({
        ...action(`a${String(i).padStart(2, '0')}`, i % 6),
        request_uuid: `r${i}`,
        module: 'm',
      }));
      await store.write({ requests: [], actionLogs: actions, modelLogs: [], activities: [] });
      for (const order of ['asc', 'desc'] as const) {
        const everything = await store.query({ kind: 'actions', filter: {}, by: 'time', order, limit: 1000 });
        const seen: string[] = [];
        let after: (typeof everything)[number]['position'] | undefined;
        for (let guard = 0; guard < 20; guard++) {
          const page = await store.query({ kind: 'actions', filter: {}, by: 'time', order, limit: 4, after });
          seen.push(...page.map((p) => p.entry.action_type));
          if (page.length < 4) break;
          after = page.at(-1)!.position;
        }
        expect(seen).toEqual(everything.map((p) => p.entry.action_type));
        expect(new Set(seen).size).toBe(30);
        const times = everything.map((p) => p.entry.emitted_at.getTime());
        expect(times).toEqual([...times].sort((a, b) => (order === 'asc' ? a - b : b - a)));
      }
    });

    it('pages stably while entries are written between pages: none skipped, none repeated', async () => {
      const write = (from: number, n: number, minute: (i: number) => number) =>
        store.write({
          requests: [],
          actionLogs: Array.from({ length: n }, (_, k): ActionLogDocument => ({
            ...action(`e${from + k}`, minute(from + k)),
            request_uuid: 'r',
            module: 'm',
          })),
          modelLogs: [],
          activities: [],
        });
      await write(0, 60, (i) => i % 10);
      const seen: string[] = [];
      let after: EntryPosition | undefined;
      for (let page = 0, written = 60; page < 40; page++) {
        const found = await store.query({ kind: 'actions', filter: {}, by: 'time', order: 'desc', limit: 7, after });
        seen.push(...found.map((p) => p.entry.action_type));
        if (found.length < 7) break;
        after = found.at(-1)!.position;
        // New entries, some newer than every page so far, some among those already read, some still ahead.
        await write(written, 3, (i) => i % 12);
        written += 3;
      }
      const originals = seen.filter((type) => Number(type.slice(1)) < 60);
      expect(new Set(seen).size).toBe(seen.length);
      expect(originals.sort()).toEqual(Array.from({ length: 60 }, (_, i) => `e${i}`).sort());
    });

    it('returns entries in stored order past a sequence, for following the trail', async () => {
      const write = (names: string[], minute: number) =>
        store.write({
          requests: [],
          actionLogs: names.map((name): ActionLogDocument => ({ ...action(name, minute), request_uuid: 'r', module: 'm' })),
          modelLogs: [],
          activities: [],
        });
      const type = (entry: ActionLogDocument) => entry.action_type;
      await write(['a', 'b'], 5);
      const first = await storedOnceVisible(store, { kind: 'actions', filter: {}, by: 'stored', order: 'asc', limit: 100 }, type, [
        'a',
        'b',
      ]);
      // Written later, with an earlier time: still after the sequence already read.
      await write(['c'], 1);
      await write(['d'], 9);
      const after = { kind: 'actions', by: 'stored', order: 'asc', limit: 100 } as const;
      await storedOnceVisible(store, { ...after, filter: {}, after: first.at(-1)!.position }, type, ['c', 'd']);
      await storedOnceVisible(store, { ...after, filter: { action_type: 'd' }, after: first[0]!.position }, type, ['d']);
      // Where now is: the newest visible entries, whatever their time.
      await storedOnceVisible(store, { kind: 'actions', filter: {}, by: 'stored', order: 'desc', limit: 2 }, type, ['d', 'c']);
    });

    it('takes back every position it made, and refuses one it cannot have made, in checkPosition and query', async () => {
      await store.write(batchOf([requestDoc('p1', 1), requestDoc('p2', 2)]));
      const uuid = (entry: RequestDocument) => entry.request_uuid;
      const base = { kind: 'requests', filter: {}, limit: 10 } as const;
      const made = [
        ...(await store.query({ ...base, by: 'time', order: 'asc' })),
        ...(await storedOnceVisible(store, { ...base, by: 'stored', order: 'asc' }, uuid, ['p1', 'p2'])),
      ];
      expect(made.map((found) => store.checkPosition?.(found.position))).toEqual(made.map(() => undefined));
      const foreign = { time: at(1), id: 'other-store:7', seq: 'other-store:7' };
      expect(store.checkPosition?.(foreign)).toBe('is not a cursor of this store');
      for (const by of ['time', 'stored'] as const) {
        await expect(store.query({ ...base, by, order: 'asc', after: foreign })).rejects.toMatchObject({
          name: 'ActionLogValidationError',
          issues: [{ path: 'cursor', message: 'is not a cursor of this store' }],
        });
      }
    });

    it('puts a document whose late events came first after what was stored before it, in stored order', async () => {
      await store.append([append('late', [modelLog('early', 1)])]);
      await store.write(batchOf([requestDoc('other', 1)]));
      const uuid = (entry: RequestDocument) => entry.request_uuid;
      const query = { kind: 'requests', filter: {}, by: 'stored', order: 'asc', limit: 100 } as const;
      const [other] = await storedOnceVisible(store, query, uuid, ['other']);
      await store.write(batchOf([requestDoc('late', 2)]));
      // A tail past 'other' asks exactly this: the document must come after it, not at its late events' place.
      await storedOnceVisible(store, { ...query, after: other!.position }, uuid, ['late']);
    });

    it("counts a user's id by its text whatever its type (42 and '42' as one), paged after a value", async () => {
      const user = (id: string | number) => ({ lookup_from: 'users', _id: id, label: `User ${String(id)}` });
      const modelLogs = [7, 8, 10, 10, 42, '42'].map((id, i) => ({
        ...modelLog(String(i), i + 1),
        request_uuid: 'r1',
        module: 'm',
        user: user(id),
      }));
      await store.write({ requests: [], actionLogs: [], modelLogs, activities: [] });
      const facets = (limit: number, after?: { value: string; count: number }) =>
        store.facets({ kind: 'changes', field: 'actor_id', filter: {}, limit, after });
      const whole = [
        { value: '10', count: 2 },
        { value: '42', count: 2 },
        { value: '7', count: 1 },
        { value: '8', count: 1 },
      ];
      expect(await facets(10)).toEqual(whole);
      const paged = [];
      for (let page = await facets(1); page.length > 0; page = await facets(1, page[0])) paged.push(...page);
      expect(paged).toEqual(whole);
      expect(await store.count('changes', { actor_id: '42' })).toBe(2);
    });

    // The in-repo MongoDB test server sorts strings as JavaScript does, by UTF-16 unit; MongoDB compares their bytes.
    it.skipIf(name === 'MongoStore' && mongoKind() === 'wire')('orders values of equal counts by code point', async () => {
      const modules = ['\uFF01wide', '\u{1F600}emoji', 'plain'];
      const actionLogs = modules.map((module, i) => ({ ...action('a', i + 1), request_uuid: 'r1', module }));
      await store.write({ requests: [], actionLogs, modelLogs: [], activities: [] });
      const facets = await store.facets({ kind: 'actions', field: 'module', filter: {}, limit: 10 });
      expect(facets.map((f) => f.value)).toEqual(['plain', '\uFF01wide', '\u{1F600}emoji']);
    });

    it('counts distinct values of a field, most frequent first, paged after a value', async () => {
      const extra = { request_uuid: 'r1', module: 'loans' };
      const actions: ActionLogDocument[] = [
        { ...action('approve', 1), ...extra },
        { ...action('approve', 2, { actor_id: 'u2', tags: [{ type: 'vip' }, { type: 'audit' }] }), ...extra },
        { ...action('reject', 3, { actor_id: 'u2', tags: [] }), ...extra },
        { ...action('export', 4, { actor_id: 'u3', tags: [] }), ...extra, module: 'reports' },
        { ...action('approve', 5, { is_active: false }), ...extra },
      ];
      await store.write({ requests: [], actionLogs: actions, modelLogs: [], activities: [] });
      const facets = (
        field: Parameters<Store['facets']>[0]['field'],
        filter: StoreFilter = {},
        limit = 10,
        after?: { value: string; count: number },
      ) => store.facets({ kind: 'actions', field, filter, limit, after });
      expect(await facets('action_type')).toEqual([
        { value: 'approve', count: 2 },
        { value: 'export', count: 1 },
        { value: 'reject', count: 1 },
      ]);
      expect(await facets('actor_id')).toEqual([
        { value: 'u2', count: 2 },
        { value: 'u1', count: 1 },
        { value: 'u3', count: 1 },
      ]);
      expect(await facets('tag_type')).toEqual([
        { value: 'vip', count: 2 },
        { value: 'audit', count: 1 },
      ]);
      expect(await facets('module', { actor_id: 'u2' })).toEqual([{ value: 'loans', count: 2 }]);
      expect(await facets('action_type', {}, 1)).toEqual([{ value: 'approve', count: 2 }]);
      expect(await facets('action_type', {}, 5, { value: 'approve', count: 2 })).toEqual([
        { value: 'export', count: 1 },
        { value: 'reject', count: 1 },
      ]);
      expect(await facets('action_type', {}, 5, { value: 'export', count: 1 })).toEqual([{ value: 'reject', count: 1 }]);
      await store.write({
        requests: [],
        actionLogs: [],
        modelLogs: [
          { ...modelLog('1', 1), request_uuid: 'r1', module: 'm', user: null },
          { ...modelLog('1', 2, { model: 'customers' }), request_uuid: 'r1', module: 'm', user: null },
          { ...modelLog('2', 3, { action: 'Deleted' }), request_uuid: 'r1', module: 'm', user: null },
        ],
        activities: [],
      });
      expect(await store.facets({ kind: 'changes', field: 'model', filter: {}, limit: 10 })).toEqual([
        { value: 'orders', count: 2 },
        { value: 'customers', count: 1 },
      ]);
      expect(await store.facets({ kind: 'changes', field: 'action', filter: { model: 'orders' }, limit: 10 })).toEqual([
        { value: 'Deleted', count: 1 },
        { value: 'Updated', count: 1 },
      ]);
    });
  });
}
