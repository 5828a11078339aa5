import { randomUUID } from 'node:crypto';
import { execFile as execFileCallback } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Db, type IndexDescriptionInfo, MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActionLogDocument,
  ActionLogConfigError,
  type ActionLogger,
  createActionLogger,
  type ModelLogDocument,
  MongoStore,
  type RequestDocument,
} from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { orderChange } from '../../../examples/shared/orders.js';
import { freshDatabaseName, mongoUri } from '../../support/mongo-db.js';
import { failOnWarning } from '../../support/matchers.js';
import { action, all, batchOf, describeStore, requestDoc } from '../../support/store-contract.js';
import { OutageStore } from '../../support/stores.js';
import { FaultProxy } from '../../support/tcp-proxy.js';

let client: MongoClient;
const execFile = promisify(execFileCallback);
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

describeStore('MongoStore', async () => ({ store: new MongoStore({ db: freshDb() }) }));

const change = (id: string, extra: Partial<ModelChange> = {}): ModelChange =>
  orderChange(id, Object.assign({ old_object: { _id: id, status: 'new' }, new_object: { _id: id, status: 'paid' } }, extra));

/** The collections MongoStore writes, read back raw. */
const requests = (db: Db) => db.collection<RequestDocument>('actionlog_requests');
const actionLogs = (db: Db) => db.collection<ActionLogDocument>('actionlog_action_logs');
const modelLogs = (db: Db) => db.collection<ModelLogDocument>('actionlog_model_logs');

/** A collection's indexes by name: key (fields in order), and the options that matter (text indexes by their weights). */
async function indexesOf(db: Db, collection: string): Promise<Record<string, object>> {
  const indexes = (await db.collection(collection).listIndexes().toArray()) as Array<IndexDescriptionInfo & { weights?: object }>;
  return Object.fromEntries(
    indexes
      .filter((i) => i.name !== '_id_')
      .map((i): [string, object] => [
        String(i.name),
        {
          key: Object.entries(i.key)
            .map(([field, kind]) => `${field} ${String(kind)}`)
            .join(', '),
          ...(i.unique ? { unique: true } : {}),
          ...(i.sparse ? { sparse: true } : {}),
          ...(i.expireAfterSeconds !== undefined ? { ttl: i.expireAfterSeconds } : {}),
          ...(i.weights ? { text: i.weights } : {}),
        },
      ]),
  );
}

function loggerOn(db: Db, options: Partial<Parameters<typeof createActionLogger>[0]> = {}): ActionLogger {
  return createActionLogger({ store: new MongoStore({ db }), flushIntervalMs: 0, retryDelayMs: 5, maxRetryDelayMs: 20, ...options });
}

/** Each stored user reference (activity, model change, request document) joins `user` by `$lookup`; entries without one are passed over. */
async function expectUserJoins(db: Db, user: { _id: ObjectId; name: string }): Promise<void> {
  for (const [collection, path] of [
    ['actionlog_activity_logs', 'user'],
    ['actionlog_model_logs', 'user'],
    ['actionlog_requests', 'details.run.user_details'],
  ] as const) {
    const [joined] = await db
      .collection(collection)
      .aggregate<{ found: Array<{ name: string }>; ref: { lookup_from: string } }>([
        { $match: { [`${path}._id`]: { $exists: true } } },
        { $lookup: { from: 'users', localField: `${path}._id`, foreignField: '_id', as: 'found' } },
        { $project: { found: 1, ref: `$${path}` } },
      ])
      .toArray();
    expect(joined?.ref.lookup_from, collection).toBe('users');
    expect(joined?.found, collection).toEqual([user]);
  }
}

const replayScript = fileURLToPath(new URL('../../support/mongo-spool-replay.ts', import.meta.url));

/** Leaves a run of `user` (a model change and an activity) in `dir`'s spool: recorded while the store is away. */
async function spoolUserRun(by: string | undefined, dir: string, user: ObjectId): Promise<unknown> {
  if (by !== 'this process') {
    const { stdout } = await execFile(process.execPath, ['--import', 'tsx', replayScript, 'spool', dir, user.toHexString()]);
    return JSON.parse(stdout) as unknown;
  }
  const away = createActionLogger({ store: new OutageStore(), spool: { dir }, retryDelayMs: 1, maxRetryDelayMs: 5, onError: () => {} });
  await away.run({ user: { _id: user, name: 'Ada' } }, () => {
    away.recordModelChange(change('1'));
    away.activity({ action: 'Logged in' });
  });
  return away.close({ timeout: 50 });
}

/** Stores what `dir`'s spool holds into `db`; from another process, one that met no ObjectId before. */
async function adoptSpool(by: string | undefined, db: Db, dir: string): Promise<unknown> {
  if (by !== 'this process') {
    const { stdout } = await execFile(process.execPath, ['--import', 'tsx', replayScript, 'adopt', dir, mongoUri(), db.databaseName]);
    return JSON.parse(stdout) as unknown;
  }
  const logger = loggerOn(db, { spool: { dir } });
  await logger.flush();
  await logger.close();
  return logger.stats().spool;
}

describe('MongoStore', () => {
  it('refuses bad options with a typed error naming them', () => {
    expect(() => new MongoStore({} as never)).toThrow(ActionLogConfigError);
    expect(() => new MongoStore({ db: freshDb(), client })).toThrow(/db/);
    expect(() => new MongoStore({ db: freshDb(), collections: { requests: '' } })).toThrow(/collections\.requests/);
    expect(() => new MongoStore({ db: freshDb(), colour: 1 } as never)).toThrow(/colour/);
  });

  it('takes a client and a database name', async () => {
    const name = freshDatabaseName();
    databases.push(client.db(name));
    const logger = createActionLogger({ store: new MongoStore({ client, dbName: name }), flushIntervalMs: 0 });
    logger.recordModelChange(change('1'));
    await logger.close();
    expect(await client.db(name).collection('actionlog_requests').countDocuments()).toBe(1);
  });

  it('creates its indexes with the right names, keys and options, idempotently, and TTL ones with retention', async () => {
    const db = freshDb();
    const store = new MongoStore({ db, collections: { actionLogs: 'audit_actions' } });
    await store.init({ actionLogs: true, modelLogs: true, retention: true, warn: failOnWarning });
    await store.init({ actionLogs: true, modelLogs: true, retention: true, warn: failOnWarning });
    expect(await indexesOf(db, 'actionlog_requests')).toEqual({
      uid_unique: { key: 'uid 1', unique: true },
      request_uuid: { key: 'request_uuid 1' },
      timestamp_id: { key: 'timestamp -1, _id -1' },
      module_timestamp_id: { key: 'module 1, timestamp -1, _id -1' },
      request_user_timestamp_id: { key: 'details.request.user_details._id 1, timestamp -1, _id -1' },
      run_user_timestamp_id: { key: 'details.run.user_details._id 1, timestamp -1, _id -1' },
      model_logs_model_model_id: { key: 'details.model_logs.model 1, details.model_logs.model_id 1' },
      correlation_id: { key: 'correlation_id 1', sparse: true },
      _seq: { key: '_seq 1', sparse: true },
      expires_at_ttl: { key: 'expires_at 1', ttl: 0 },
    });
    expect(await indexesOf(db, 'audit_actions')).toEqual({
      uid_unique: { key: 'uid 1', unique: true, sparse: true },
      actor_id_action_type: { key: 'actor_id 1, action_type 1' },
      actor_id_emitted_at_id: { key: 'actor_id 1, emitted_at -1, _id -1' },
      action_type_emitted_at_id: { key: 'action_type 1, emitted_at -1, _id -1' },
      target_type_target_id_emitted_at_id: { key: 'target_type 1, target_id 1, emitted_at -1, _id -1' },
      emitted_at_id: { key: 'emitted_at -1, _id -1' },
      request_uuid: { key: 'request_uuid 1' },
      note_names_text: { key: '_fts text, _ftsx 1', text: { 'actor.name': 1, note: 1, 'target.name': 1 } },
      _seq: { key: '_seq 1', sparse: true },
      expires_at_ttl: { key: 'expires_at 1', ttl: 0 },
    });
    expect(await indexesOf(db, 'actionlog_model_logs')).toEqual({
      uid_unique: { key: 'uid 1', unique: true, sparse: true },
      model_model_id_timestamp_id: { key: 'model 1, model_id 1, timestamp -1, _id -1' },
      request_uuid: { key: 'request_uuid 1' },
      timestamp_id: { key: 'timestamp -1, _id -1' },
      user_timestamp_id: { key: 'user._id 1, timestamp -1, _id -1' },
      _seq: { key: '_seq 1', sparse: true },
      expires_at_ttl: { key: 'expires_at 1', ttl: 0 },
    });
    expect(await indexesOf(db, 'actionlog_activity_logs')).toEqual({
      uid_unique: { key: 'uid 1', unique: true, sparse: true },
      user_activity_date_id: { key: 'user._id 1, activity_date -1, _id -1' },
      activity_date_id: { key: 'activity_date -1, _id -1' },
      request_uuid: { key: 'request_uuid 1' },
      _seq: { key: '_seq 1', sparse: true },
      expires_at_ttl: { key: 'expires_at 1', ttl: 0 },
    });
  });

  it('replaces an index whose key changed at init: the new one under a new name, the old one dropped', async () => {
    const db = freshDb();
    // The indexes of the previous version, some with documents already stored.
    await requests(db).createIndexes([
      { key: { timestamp: -1 }, name: 'timestamp' },
      { key: { module: 1, timestamp: -1 }, name: 'module_timestamp' },
    ]);
    await actionLogs(db).createIndexes([
      { key: { action_type: 1 }, name: 'action_type' },
      { key: { target_type: 1, target_id: 1 }, name: 'target_type_target_id' },
      { key: { emitted_at: -1 }, name: 'emitted_at' },
    ]);
    await modelLogs(db).createIndexes([{ key: { model: 1, model_id: 1, timestamp: -1 }, name: 'model_model_id_timestamp' }]);
    await db
      .collection('actionlog_activity_logs')
      .createIndexes([{ key: { 'user._id': 1, activity_date: -1 }, name: 'user_activity_date' }]);
    await new MongoStore({ db, createIndexes: false }).write(batchOf([requestDoc('before')]));
    // An index of the application's own on a store collection stays.
    await actionLogs(db).createIndexes([{ key: { note: 1 }, name: 'app_note' }]);
    await new MongoStore({ db }).init({ actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning });
    const names = async (collection: string) => Object.keys(await indexesOf(db, collection)).sort();
    const requestIndexes = await names('actionlog_requests');
    expect(requestIndexes).toContain('timestamp_id');
    expect(requestIndexes).toContain('module_timestamp_id');
    expect(requestIndexes).not.toContain('timestamp');
    expect(requestIndexes).not.toContain('module_timestamp');
    const actionIndexes = await names('actionlog_action_logs');
    expect(actionIndexes).toContain('app_note');
    expect(actionIndexes).toContain('action_type_emitted_at_id');
    for (const old of ['action_type', 'target_type_target_id', 'emitted_at']) expect(actionIndexes).not.toContain(old);
    expect(await names('actionlog_model_logs')).toContain('model_model_id_timestamp_id');
    expect(await names('actionlog_model_logs')).not.toContain('model_model_id_timestamp');
    expect(await names('actionlog_activity_logs')).toContain('user_activity_date_id');
    expect(await names('actionlog_activity_logs')).not.toContain('user_activity_date');
    expect((await all(new MongoStore({ db }), 'requests')).map((d) => d.request_uuid)).toEqual(['before']);
  });

  it('skips index creation when asked', async () => {
    const db = freshDb();
    await new MongoStore({ db, createIndexes: false }).init({ actionLogs: true, modelLogs: false, retention: false, warn: failOnWarning });
    expect((await db.listCollections().toArray()).map((c) => c.name)).toEqual([]);
  });

  it('stamps expires_at from retentionDays', async () => {
    const db = freshDb();
    const logger = loggerOn(db, { retentionDays: 30 });
    await logger.run({}, async () => {
      logger.recordModelChange(change('1'));
      logger.record({ action: 'export' });
    });
    await logger.close();
    const doc = await requests(db).findOne({});
    expect(doc!.expires_at!.getTime() - doc!.timestamp.getTime()).toBe(30 * 24 * 3600 * 1000);
    const action = await actionLogs(db).findOne({});
    expect(action!.expires_at!.getTime() - action!.emitted_at.getTime()).toBe(30 * 24 * 3600 * 1000);
  });

  it("stores user references with the user's ObjectId, so a $lookup from lookup_from finds the user", async () => {
    const db = freshDb();
    const users = db.collection<{ _id: ObjectId; name: string }>('users');
    const ada = { _id: new ObjectId(), name: 'Ada' };
    await users.insertMany([ada, { _id: new ObjectId(), name: 'Bo' }]);
    const logger = loggerOn(db);
    await logger.run({ user: { _id: ada._id, name: ada.name } }, () => {
      logger.recordModelChange(change('1'));
      logger.activity({ action: 'Logged in' });
    });
    await logger.close();
    await expectUserJoins(db, ada);
    const activities = 'actionlog_activity_logs';
    // The hex text of the id finds the ObjectId (and a string id of the same text, as earlier versions stored it).
    await db.collection(activities).insertOne({
      // As an entry of an earlier version: no uid.
      ...(await db.collection(activities).findOne({}, { projection: { _id: 0, uid: 0 } }))!,
      user: { lookup_from: 'users', _id: ada._id.toHexString(), label: 'Ada' },
    });
    // As in MongoDB, the hex string earlier versions stored joins nothing: that is what keeping the type fixes.
    const joins = await db
      .collection(activities)
      .aggregate<{ found: unknown[]; hex: boolean }>([
        { $lookup: { from: 'users', localField: 'user._id', foreignField: '_id', as: 'found' } },
        { $project: { _id: 0, found: 1, hex: { $eq: [{ $type: '$user._id' }, 'string'] } } },
      ])
      .toArray();
    expect(joins.map((j) => [j.hex, j.found.length]).sort()).toEqual([
      [false, 1],
      [true, 0],
    ]);
    const reader = loggerOn(db);
    expect(await reader.count({ kind: 'activities', actor_id: ada._id.toHexString() })).toBe(2);
    expect(await reader.count({ kind: 'changes', actor_id: ada._id.toHexString() })).toBe(1);
    expect(await reader.count({ kind: 'requests', actor_id: ada._id.toHexString() })).toBe(1);
    await reader.close();
  });

  it.for([
    ['this process', 'holding an entry'],
    ['processes of their own', 'holding an entry'],
    ['processes of their own', 'empty'],
  ])(
    "keeps the user's ObjectId through a spool: entries spooled and stored by %s, on a trail %s, still join the user",
    async ([by, trail]) => {
      const db = freshDb();
      const ada = { _id: new ObjectId(), name: 'Ada' };
      await db.collection<{ _id: ObjectId; name: string }>('users').insertOne(ada);
      // A fresh process learns the driver's ObjectId from the trail at start, or from the server when it is empty.
      if (trail !== 'empty') {
        const earlier = loggerOn(db);
        await earlier.run({}, () => {
          earlier.recordModelChange(change('0'));
        });
        await earlier.close();
      }
      const dir = mkdtempSync(join(tmpdir(), 'actionlog-spool-'));
      try {
        expect(await spoolUserRun(by, dir, ada._id)).toEqual({ left: 2 });
        expect(await adoptSpool(by, db, dir)).toMatchObject({ replayed: 2, pending: 0 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      await expectUserJoins(db, ada);
    },
  );

  it('stores $ and dotted keys escaped in BSON and reads them back as sent', async () => {
    const db = freshDb();
    const logger = loggerOn(db);
    const filter = { $or: [{ 'customer.name': 'Ada' }, { total: { $gt: 10 } }] };
    logger.recordModelChange(change('1', { new_object: { _id: '1', rules: filter, 'a.b': { $in: [1] } } }));
    await logger.flush();
    const raw = await requests(db).findOne({});
    expect(raw!.details.model_logs[0]!.model_details.new_object).toEqual({
      _id: '1',
      rules: { '%24or': [{ 'customer%2Ename': 'Ada' }, { total: { '%24gt': 10 } }] },
      'a%2Eb': { '%24in': [1] },
    });
    const [doc] = await all(new MongoStore({ db }), 'requests');
    expect(doc!.details.model_logs[0]!.model_details.new_object).toEqual({ _id: '1', rules: filter, 'a.b': { $in: [1] } });
    expect(doc!).not.toHaveProperty('_appends');
    await logger.close();
  });

  it('spills model logs past maxModelLogsPerRequest into model_logs and keeps every one', async () => {
    const db = freshDb();
    // Without the mirror, model_logs holds only what was spilled.
    const logger = loggerOn(db, { maxModelLogsPerRequest: 10, modelLogs: false });
    await logger.run({ requestUuid: 'big' }, async () => {
      for (let i = 0; i < 25; i++) logger.recordModelChange(change(String(i)));
    });
    await logger.close();
    const doc = await requests(db).findOne({ request_uuid: 'big' });
    expect(doc!.details.model_logs).toHaveLength(10);
    expect(doc!.details.model_logs_spilled).toBe(15);
    const spilled = await modelLogs(db).find({ request_uuid: 'big' }).toArray();
    expect(spilled.map((m) => m.model_id)).toEqual(Array.from({ length: 15 }, (_, i) => String(i + 10)));
  });

  it('keeps a request document under the BSON limit whatever it records', async () => {
    const db = freshDb();
    const logger = loggerOn(db, { modelLogs: false });
    const big = 'x'.repeat(8000);
    await logger.run({ requestUuid: 'huge' }, async () => {
      for (let i = 0; i < 900; i++)
        logger.recordModelChange(change(String(i), { old_object: { big, n: i }, new_object: { big, n: i + 1 } }));
    });
    await logger.close();
    expect(logger.stats()).toMatchObject({ stored: 1, dropped: 0 });
    const doc = await requests(db).findOne({ request_uuid: 'huge' });
    const kept = doc!.details.model_logs.length;
    expect(kept).toBeLessThan(900);
    expect(kept + doc!.details.model_logs_spilled!).toBe(900);
    expect(await db.collection('actionlog_model_logs').countDocuments({ request_uuid: 'huge' })).toBe(900 - kept);
  });

  it('drops the unique request id index of earlier versions, so that two requests may claim one id', async () => {
    const db = freshDb();
    await requests(db).createIndexes([{ key: { request_uuid: 1 }, name: 'request_uuid_unique', unique: true }]);
    const store = new MongoStore({ db });
    await store.init({ actionLogs: true, modelLogs: false, retention: false, warn: failOnWarning });
    await store.write({ requests: [requestDoc('same-id', 0, { uid: 'first' })], actionLogs: [], modelLogs: [], activities: [] });
    await store.write({
      requests: [requestDoc('same-id', 5, { uid: 'second', module: 'again' })],
      actionLogs: [],
      modelLogs: [],
      activities: [],
    });
    const docs = await requests(db).find({ request_uuid: 'same-id' }).sort({ timestamp: 1 }).toArray();
    expect(docs.map((d) => [d.uid, d.module])).toEqual([
      ['first', 'orders'],
      ['second', 'again'],
    ]);
    expect(((await requests(db).listIndexes().toArray()) as { name: string }[]).map((i) => i.name)).not.toContain('request_uuid_unique');
  });
});

describe('MongoStore under a connection that drops mid-write', () => {
  let proxy: FaultProxy;
  let proxied: MongoClient;
  let db: Db;

  beforeAll(async () => {
    proxy = FaultProxy.fromUri(mongoUri());
    const address = await proxy.start();
    // Straight to the proxy, without the driver's own write retry: actionlog's writer must cope alone.
    proxied = await MongoClient.connect(`mongodb://${address}/?directConnection=true&retryWrites=false`, {
      serverSelectionTimeoutMS: 10_000,
    });
    db = proxied.db(freshDatabaseName());
    databases.push(client.db(db.databaseName));
  });
  afterAll(async () => {
    await proxied.close();
    await proxy.stop();
  });

  async function recordRequests(logger: ActionLogger, prefix: string, n: number) {
    for (let i = 0; i < n; i++) {
      await logger.run({ requestUuid: `${prefix}-${i}` }, async () => {
        logger.recordModelChange(change(`${prefix}-${i}`));
        logger.record({ action: 'checkout', target: { type: 'order', id: `${prefix}-${i}` } });
      });
    }
  }

  it.each([
    ['after the server stored the batch, before the reply', 'reply'],
    ['halfway through sending the batch', 'request'],
  ] as const)('stores every document exactly once when the connection drops %s', async (_when, kind) => {
    const prefix = `${kind}-${randomUUID().slice(0, 4)}`;
    const logger = loggerOn(db, { batchSize: 50, flushIntervalMs: 60_000 });
    await logger.ready();
    const isRequestsInsert = (command: string, body: Record<string, unknown>) =>
      command === 'insert' && body.insert === 'actionlog_requests';
    const dropped = kind === 'reply' ? proxy.dropReply(isRequestsInsert) : proxy.cutRequest(isRequestsInsert);
    await recordRequests(logger, prefix, 120);
    await logger.flush();
    await dropped;
    const uuids = (
      await requests(db)
        .find({ request_uuid: { $regex: `^${prefix}-` } })
        .toArray()
    ).map((d) => d.request_uuid);
    expect(uuids).toHaveLength(120);
    expect(new Set(uuids).size).toBe(120);
    expect(await db.collection('actionlog_action_logs').countDocuments({ request_uuid: { $regex: `^${prefix}-` } })).toBe(120);
    // The store answered its ping right after the drop: the batch was written again (in halves), not waited for.
    expect(logger.stats()).toMatchObject({ recorded: 120, stored: 120, dropped: 0, quarantined: 0 });
    await logger.close();
  });

  it('applies a late append once when the connection drops before its reply', async () => {
    const logger = loggerOn(db);
    let ctx!: ReturnType<ActionLogger['current']>;
    await logger.run({ requestUuid: 'late-once' }, async () => {
      ctx = logger.current();
      logger.recordModelChange(change('a'));
    });
    await logger.flush();
    const dropped = proxy.dropReply((command, body) => command === 'update' && body.update === 'actionlog_requests');
    logger.recordModelChange(change('b'), ctx);
    await logger.flush();
    await dropped;
    const doc = await requests(db).findOne({ request_uuid: 'late-once' });
    expect(doc!.details.model_logs.map((m) => m.model_id)).toEqual(['a', 'b']);
    await logger.close();
  });
});

describe('MongoStore: entries archived from another store', () => {
  it("gives entries that come with another store's ids (SQL row numbers) ids of its own: paged, deactivated, none taken for another", async () => {
    const store = new MongoStore({ db: freshDb() });
    await store.init({ actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning });
    // Two sources archived into one store: row 4 of each, at one time, and rows 1–5 of the first.
    const fromSql = (id: number, type: string) => ({ ...action(type, 1), _id: id, uid: randomUUID(), request_uuid: 'r1', module: 'm' });
    const write = (actionLogs: ActionLogDocument[]) => store.write({ requests: [], actionLogs, modelLogs: [], activities: [] });
    await write([1, 2, 3, 4, 5].map((id) => fromSql(id, `first-${id}`)));
    await write([fromSql(4, 'second-4')]);
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    for (const order of ['asc', 'desc'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: ActionLogDocument[]; next_cursor: string | null } = await logger.query(
          { kind: 'actions' },
          { limit: 2, cursor, order },
        );
        seen.push(...page.items.map((a) => a.action_type));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen.sort()).toEqual(['first-1', 'first-2', 'first-3', 'first-4', 'first-5', 'second-4']);
    }
    const [second] = (await logger.query({ kind: 'actions', action_type: 'second-4' })).items;
    expect(second!._id).toBeInstanceOf(ObjectId);
    await logger.deactivate(String(second!._id), { reason: 'entered twice', actor: 'admin' });
    expect((await logger.query({ kind: 'actions', action_type: 'second-4' })).items).toEqual([]);
    await logger.close();
  });
});
