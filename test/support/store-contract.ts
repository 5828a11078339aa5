import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failOnWarning } from './matchers.js';
import type {
  ActionEntry,
  ActionLogDocument,
  ActivityDocument,
  ModelLog,
  ModelLogDocument,
  RequestAppend,
  RequestDocument,
  Store,
  StoreBatch,
} from 'actionlog';

/** Makes an empty store for one test, and cleans it up afterwards. */
export type StoreFactory = () => Promise<{ store: Store; cleanup?: () => Promise<void> }>;

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
  return {
    actionLogs: doc.details.actions.map((a): ActionLogDocument => ({ ...a, ...extra })),
    modelLogs: doc.details.model_logs.map((m): ModelLogDocument => ({ ...m, ...extra })),
  };
}

function batchOf(docs: RequestDocument[], activities: ActivityDocument[] = []): StoreBatch {
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

function activity(user: string, minutes: number, uuid: string | null = null): ActivityDocument {
  return {
    user: { lookup_from: 'users', _id: user, label: `User ${user}` },
    ip_address: '10.0.0.1',
    action: 'Logged in',
    activity_date: at(minutes),
    link_preview: null,
    request_uuid: uuid,
  };
}

/** Documents compare without the ids a store assigns. */
function withoutId<T extends { _id?: unknown }>(doc: T): Omit<T, '_id'> {
  const { _id, ...rest } = doc;
  return rest;
}

/** Stores in order of arrival. Late events may arrive before their document. */
export function describeStore(name: string, factory: StoreFactory): void {
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
      const [r1] = await store.findRequests({ request_uuid: 'r1' });
      expect(withoutId(r1!)).toEqual(doc);
      const [r2] = await store.findRequests({ request_uuid: 'r2' });
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
      expect((await store.findRequests()).map((d) => d.request_uuid).sort()).toEqual(['a', 'b', 'c']);
      expect(await store.findActions()).toHaveLength(3);
      expect(await store.findModelLogs()).toHaveLength(3);
      expect(await store.findActivities()).toHaveLength(1);
    });

    it('appends late events to their document, in order, once per append', async () => {
      await store.write(batchOf([requestDoc('r1')]));
      const late = append('r1', [modelLog('2', 1), modelLog('3', 2)], [action('notify', 3)]);
      await store.append([late]);
      await store.append([late]);
      await store.append([append('r1', [modelLog('4', 4)])]);
      const [doc] = await store.findRequests({ request_uuid: 'r1' });
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
      const docs = await store.findRequests({ request_uuid: 'r1' });
      expect(docs).toHaveLength(1);
      const merged = docs[0]!;
      expect(merged.timestamp).toEqual(at(0));
      expect(merged.details.request?.url).toBe('/orders/1?x=1');
      expect(merged.details.model_logs.map((m) => m.model_id)).toEqual(['1', 'late']);
      expect(merged.details.actions.map((a) => a.action_type)).toEqual(['checkout', 'late_action']);
      expect(merged.details.model_logs_spilled).toBe(3);
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
      const docs = await store.findRequests({ request_uuid: 'same', order: 'asc' });
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
      const [back] = await store.findRequests({ request_uuid: 'r1' });
      const body = back!.details.request!.body as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['$where', '100%', '__proto__', 'a.b']);
      expect(body['a.b']).toEqual({ $in: [1] });
      expect(Object.getOwnPropertyDescriptor(body, '__proto__')?.value).toEqual({ polluted: true });
      expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    });

    it('finds requests by id, module, correlation, user, model, record and time, newest first', async () => {
      const docs = [
        requestDoc('r1', 1),
        requestDoc('r2', 2, { module: 'billing', correlation_id: 'c-1' }),
        requestDoc('r3', 3),
        requestDoc('r4', 4),
      ];
      docs[2]!.details.request!.user_details = { lookup_from: 'users', _id: 'u2', label: 'Bo' };
      docs[3]!.details.request = null;
      docs[3]!.details.run = {
        user_details: { lookup_from: 'users', _id: 'u2', label: 'Bo' },
        metadata: null,
        duration_ms: 1,
        error: null,
      };
      docs[3]!.details.model_logs = [modelLog('9', 4, { model: 'customers', model_class_name: 'Customer' })];
      await store.write(batchOf(docs));
      const ids = async (q: Parameters<Store['findRequests']>[0]) => (await store.findRequests(q)).map((d) => d.request_uuid);
      expect(await ids({})).toEqual(['r4', 'r3', 'r2', 'r1']);
      expect(await ids({ order: 'asc', limit: 2 })).toEqual(['r1', 'r2']);
      expect(await ids({ order: 'asc', limit: 2, offset: 2 })).toEqual(['r3', 'r4']);
      expect(await ids({ request_uuid: 'r3' })).toEqual(['r3']);
      expect(await ids({ module: 'billing' })).toEqual(['r2']);
      expect(await ids({ correlation_id: 'c-1' })).toEqual(['r2']);
      expect(await ids({ user_id: 'u2' })).toEqual(['r4', 'r3']);
      expect(await ids({ model: 'customers' })).toEqual(['r4']);
      expect(await ids({ model: 'orders', model_id: '1' })).toEqual(['r3', 'r2', 'r1']);
      expect(await ids({ model_id: '9' })).toEqual(['r4']);
      expect(await ids({ from: at(2), to: at(3) })).toEqual(['r3', 'r2']);
    });

    it('finds actions by actor, type, category, target and time, hiding inactive ones unless asked', async () => {
      const extra = { request_uuid: 'r1', module: 'loans' };
      const actions: ActionLogDocument[] = [
        { ...action('approve', 1, { action_category: 'loans' }), ...extra },
        { ...action('approve', 2, { actor_id: 'u2', actor: { ref: 'u2', type: 'user', name: 'Bo' } }), ...extra },
        { ...action('reject', 3, { target_type: 'car', target_id: '7', target: { type: 'car', id: '7' } }), ...extra },
        { ...action('approve', 4, { is_active: false }), ...extra, request_uuid: 'r2' },
      ];
      const expected = structuredClone(actions[0]);
      await store.write({ requests: [], actionLogs: actions, modelLogs: [], activities: [] });
      const types = async (q: Parameters<Store['findActions']>[0]) =>
        (await store.findActions(q)).map((a) => `${a.action_type}@${a.emitted_at.getTime() - T0}`);
      const m = (n: number) => n * 60_000;
      expect(await types({})).toEqual([`reject@${m(3)}`, `approve@${m(2)}`, `approve@${m(1)}`]);
      expect(await types({ include_inactive: true, order: 'asc' })).toEqual([
        `approve@${m(1)}`,
        `approve@${m(2)}`,
        `reject@${m(3)}`,
        `approve@${m(4)}`,
      ]);
      expect(await types({ actor_id: 'u1', action_type: 'approve' })).toEqual([`approve@${m(1)}`]);
      expect(await types({ action_category: 'loans' })).toEqual([`approve@${m(1)}`]);
      expect(await types({ target_type: 'car', target_id: '7' })).toEqual([`reject@${m(3)}`]);
      expect(await types({ request_uuid: 'r2', include_inactive: true })).toEqual([`approve@${m(4)}`]);
      expect(await types({ from: at(2), to: at(3) })).toEqual([`reject@${m(3)}`, `approve@${m(2)}`]);
      const [full] = await store.findActions({ action_category: 'loans' });
      expect(withoutId(full!)).toEqual(expected);
    });

    it('finds model logs by request, model, record and time', async () => {
      const logs: ModelLogDocument[] = [
        { ...modelLog('1', 1), request_uuid: 'r1', module: 'm' },
        { ...modelLog('2', 2), request_uuid: 'r1', module: 'm' },
        { ...modelLog('1', 3, { model: 'customers', model_class_name: 'Customer' }), request_uuid: 'r2', module: 'm' },
      ];
      const expected = structuredClone(logs[2]);
      await store.write({ requests: [], actionLogs: [], modelLogs: logs, activities: [] });
      const keys = async (q: Parameters<Store['findModelLogs']>[0]) =>
        (await store.findModelLogs(q)).map((l) => `${l.model}/${l.model_id}`);
      expect(await keys({ order: 'asc' })).toEqual(['orders/1', 'orders/2', 'customers/1']);
      expect(await keys({ request_uuid: 'r1' })).toEqual(['orders/2', 'orders/1']);
      expect(await keys({ model: 'orders', model_id: '1' })).toEqual(['orders/1']);
      expect(await keys({ from: at(2) })).toEqual(['customers/1', 'orders/2']);
      const [first] = await store.findModelLogs({ model: 'customers' });
      expect(withoutId(first!)).toEqual(expected);
    });

    it('finds activities by user, request and time', async () => {
      await store.write({
        requests: [],
        actionLogs: [],
        modelLogs: [],
        activities: [activity('u1', 1, 'r1'), activity('u2', 2), activity('u1', 3)],
      });
      const rows = async (q: Parameters<Store['findActivities']>[0]) =>
        (await store.findActivities(q)).map((a) => `${a.user._id}@${a.activity_date.getTime() - T0}`);
      expect(await rows({})).toEqual(['u1@180000', 'u2@120000', 'u1@60000']);
      expect(await rows({ user_id: 'u1', order: 'asc' })).toEqual(['u1@60000', 'u1@180000']);
      expect(await rows({ request_uuid: 'r1' })).toEqual(['u1@60000']);
      expect(await rows({ to: at(2) })).toEqual(['u2@120000', 'u1@60000']);
      const [one] = await store.findActivities({ request_uuid: 'r1' });
      expect(withoutId(one!)).toEqual(activity('u1', 1, 'r1'));
    });
  });
}
