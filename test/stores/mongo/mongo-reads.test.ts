import { type Collection, type Db, type Document, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ActionLogDocument,
  ActionLogStoreError,
  createActionLogger,
  type RequestDocument,
  MongoStore,
  type StoreBatch,
} from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { orderChange } from '../../../examples/shared/orders.js';
import { freshDatabaseName, mongoUri, planStages } from '../../support/mongo-db.js';
import { failOnWarning } from '../../support/matchers.js';
import { action, activity, batchOf, requestDoc } from '../../support/store-contract.js';

/** MongoStore's own read side (the shared one is in the store contract): bookkeeping, stored order, watch, plans. */

let client: MongoClient;
const databases: Db[] = [];
const freshDb = () => {
  const db = client.db(freshDatabaseName());
  databases.push(db);
  return db;
};

beforeAll(async () => {
  client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => {
  for (const db of databases) await db.dropDatabase().catch(() => {});
  await client.close();
});

const change = (id: string, extra: Partial<ModelChange> = {}): ModelChange =>
  orderChange(id, Object.assign({ old_object: { _id: id, status: 'new' }, new_object: { _id: id, status: 'paid' } }, extra));
const requests = (db: Db) => db.collection<RequestDocument>('actionlog_requests');

const INIT = { actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning };

/** A batch of actions, named by their types. */
const actionsBatch = (...types: string[]): StoreBatch => ({
  requests: [],
  actionLogs: types.map((type): ActionLogDocument => ({ ...action(type), request_uuid: 'r', module: 'm' })),
  modelLogs: [],
  activities: [],
});

/** The database, with `insertMany` on one collection done by `insertMany` (given the real collection). */
function withInsertMany(db: Db, collection: string, insertMany: (real: Collection, docs: object[]) => Promise<unknown>): Db {
  const through = <T extends object>(target: T, own: (name: string | symbol) => unknown) =>
    new Proxy(target, {
      get: (t, name) => {
        const value: unknown = own(name) ?? Reflect.get(t, name, t);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
      },
    });
  return through(db, (name) =>
    name === 'collection'
      ? (named: string) => {
          const real = db.collection(named);
          if (named !== collection) return real;
          return through(real, (method) => (method === 'insertMany' ? (docs: object[]) => insertMany(real, docs) : undefined));
        }
      : undefined,
  );
}

/** The database, with inserts into one collection held until `release` (they are sent then). */
function holdInserts(db: Db, collection: string): { db: Db; reached: Promise<void>; release: () => void } {
  let reached!: () => void;
  let release!: () => void;
  const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  const held = withInsertMany(db, collection, async (real, docs) => {
    reached();
    await gate;
    return real.insertMany(docs, { ordered: false, forceServerObjectId: false });
  });
  return { db: held, reached: reachedPromise, release };
}

const storedTypes = async (store: MongoStore, order: 'asc' | 'desc' = 'asc') =>
  (await store.query({ kind: 'actions', filter: {}, by: 'stored', order, limit: 10 })).map((p) => p.entry.action_type);

describe('MongoStore read side', () => {
  it('hides its bookkeeping (_seq, _appends) from reads, and gives the sequence in positions', async () => {
    const db = freshDb();
    const store = new MongoStore({ db });
    await store.init(INIT);
    const doc = requestDoc('r1');
    await store.append([
      {
        append_id: 'a1',
        uid: doc.uid,
        request_uuid: 'r1',
        module: 'orders',
        model_logs: [],
        actions: [],
        model_logs_spilled: 0,
        actions_spilled: 0,
      },
    ]);
    // Late events alone are no entry yet.
    expect(await store.query({ kind: 'requests', filter: {}, by: 'stored', order: 'asc', limit: 10 })).toEqual([]);
    await store.write({ ...batchOf([doc], [activity('u1', 0)]) });
    for (const kind of ['requests', 'actions', 'changes', 'activities'] as const) {
      for (const by of ['time', 'stored'] as const) {
        const [found] = await store.query({ kind, filter: {}, by, order: 'asc', limit: 10 });
        expect(found!.entry, `${kind} by ${by}`).not.toHaveProperty('_seq');
        expect(found!.entry, `${kind} by ${by}`).not.toHaveProperty('_appends');
        expect(Number(found!.position.seq)).toBeGreaterThan(0);
      }
    }
    const raw = await requests(db).findOne({ uid: doc.uid });
    const [stored] = await store.query({ kind: 'requests', filter: {}, by: 'stored', order: 'asc', limit: 10 });
    expect(stored!.position.seq).toBe(String((raw as unknown as { _seq: number })._seq));
    expect(stored!.position.id).toBe(String(raw!._id));
    expect(raw).toHaveProperty('_appends');
  });

  it('never passes a write still in flight in another process when reading in stored order', async () => {
    const db = freshDb();
    const slow = holdInserts(db, 'actionlog_action_logs');
    const a = new MongoStore({ db: slow.db, tailSettleMs: 1000 });
    const b = new MongoStore({ db, tailSettleMs: 1000 });
    await a.init(INIT);
    await b.init(INIT);
    const types = storedTypes;
    const inFlight = a.write(actionsBatch('slow'));
    await slow.reached;
    await b.write(actionsBatch('fast'));
    // Numbered after the slow write, stored before it: neither store returns it ahead of the slow one.
    expect(await types(b)).toEqual([]);
    // Nor as the newest: a tail starting there would skip the slow one.
    expect(await types(b, 'desc')).toEqual([]);
    expect(await types(a)).toEqual([]);
    expect(await b.count('actions', {})).toBe(1);
    slow.release();
    await inFlight;
    const seen: string[][] = [];
    await vi.waitFor(
      async () => {
        seen.push(await types(b));
        expect(seen.at(-1)).toEqual(['slow', 'fast']);
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(seen.filter((page) => page.length > 0 && page[0] !== 'slow')).toEqual([]);
    expect(await types(b, 'desc')).toEqual(['fast', 'slow']);
    // The writer's own reads pass its own writes at once, but not the other's before it settles.
    const c = new MongoStore({ db, tailSettleMs: 60_000 });
    await c.write(actionsBatch('own'));
    expect(await types(c)).toEqual([]);
    expect(await types(b)).toEqual(['slow', 'fast']);
  });

  it('holds stored-order readers back after a failed write, for as long as it could still land', async () => {
    const db = freshDb();
    let lose = true;
    const flaky = withInsertMany(db, 'actionlog_action_logs', async (real, docs) => {
      const result = await real.insertMany(docs, { ordered: false, forceServerObjectId: false });
      if (!lose) return result;
      lose = false;
      throw new Error('connection lost before the reply');
    });
    const store = new MongoStore({ db: flaky, tailSettleMs: 2000 });
    await store.init(INIT);
    await expect(store.write(actionsBatch('landed'))).rejects.toThrow(/connection lost/);
    await store.write(actionsBatch('after'));
    expect(await storedTypes(store)).toEqual([]);
    await vi.waitFor(
      async () => {
        expect(await storedTypes(store)).toEqual(['landed', 'after']);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('wakes watchers on its own writes, stops on unsubscribe and close, without change streams where there are none', async () => {
    const db = freshDb();
    const store = new MongoStore({ db });
    await store.init(INIT);
    let woken = 0;
    const stop = store.watch(() => woken++);
    await store.write(actionsBatch('one'));
    await store.append([]);
    expect(woken).toBe(1);
    stop();
    await store.write(actionsBatch('two'));
    expect(woken).toBe(1);
    store.watch(() => woken++);
    await store.close();
    await store.write(actionsBatch('three'));
    expect(woken).toBe(1);
  });

  it('says that q needs the text index when it was not created', async () => {
    const db = freshDb();
    const store = new MongoStore({ db, createIndexes: false });
    await store.init(INIT);
    await store.write(actionsBatch('approve'));
    await expect(store.query({ kind: 'actions', filter: { q: 'approve' }, by: 'time', order: 'desc', limit: 10 })).rejects.toThrow(
      /q searches the text index/,
    );
    await expect(store.count('actions', { q: 'approve' })).rejects.toThrow(ActionLogStoreError);
  });
});

/** The fields of a find command that shape its plan (the rest are the session's and the driver's). */
const FIND_FIELDS = ['find', 'filter', 'sort', 'projection', 'skip', 'limit', 'hint'];

describe('MongoStore history', () => {
  it("reads a record's history and its state at a moment from the history index, page after page: the plans name it", async () => {
    const watched = await MongoClient.connect(mongoUri(), { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
    try {
      const db = watched.db(freshDatabaseName());
      databases.push(client.db(db.databaseName));
      const finds: Document[] = [];
      watched.on('commandStarted', (event) => {
        if (event.commandName === 'find' && event.command.find === 'actionlog_model_logs') finds.push(event.command);
      });
      const logger = createActionLogger({ store: new MongoStore({ db }), flushIntervalMs: 0 });
      for (let i = 0; i < 8; i++) {
        await logger.run({ requestUuid: `h${i}` }, async () => {
          logger.recordModelChange(change('7', { old_object: { _id: '7', total: i }, new_object: { _id: '7', total: i + 1 } }));
          logger.recordModelChange(change('8'));
        });
      }
      await logger.flush();
      const first = await logger.history('orders', '7', { limit: 3 });
      const second = await logger.history('orders', '7', { limit: 3, cursor: first.next_cursor });
      expect([...first.items, ...second.items].map((item) => item.new_object?.total)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await logger.stateAt('orders', '7', new Date())).toMatchObject({ state: { _id: '7', total: 8 } });
      // The first page, the next one (past a position) and stateAt's reads.
      expect(finds.length).toBeGreaterThanOrEqual(3);
      for (const command of finds) {
        const find = Object.fromEntries(FIND_FIELDS.filter((field) => field in command).map((field) => [field, command[field] as unknown]));
        const explained = await db.command({ explain: find, verbosity: 'queryPlanner' });
        const stages = planStages(explained);
        expect(stages, JSON.stringify(find.filter)).toContainEqual(expect.stringMatching(/^IXSCAN model_model_id_timestamp_id /));
        expect(stages).not.toContain('COLLSCAN');
        expect(stages).not.toContain('SORT');
      }
      await logger.close();
    } finally {
      await watched.close();
    }
  });

  it('says that history needs its index when it was not created', async () => {
    const db = freshDb();
    const store = new MongoStore({ db, createIndexes: false });
    await store.init(INIT);
    await store.write(batchOf([requestDoc('r1')]));
    const history = store.query({ kind: 'changes', filter: { model: 'orders', model_id: '1' }, by: 'time', order: 'asc', limit: 10 });
    await expect(history).rejects.toThrow(
      /a record's history reads the index \{ model, model_id, timestamp, _id \} of the model_logs collection/,
    );
    // Other reads of changes need no particular index.
    expect(await store.query({ kind: 'changes', filter: { model: 'orders' }, by: 'time', order: 'asc', limit: 10 })).toHaveLength(1);
  });
});
