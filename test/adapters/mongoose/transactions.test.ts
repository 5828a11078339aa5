import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import mongoose, { type Connection, Schema } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { actionLog } from 'actionlog/express';
import { actionLogPlugin } from 'actionlog/mongoose';
import { freshDatabaseName, mongoUri, useMongooseConnection } from '../../support/mongo-db.js';
import { logsOf as logsOfRun } from '../../support/logs.js';

const store = new MemoryStore();
const logger = createActionLogger({ store, flushIntervalMs: 0 });
const accountSchema = new Schema({ name: String, balance: Number });
accountSchema.plugin(actionLogPlugin(logger));
const connect = useMongooseConnection();
let conn: Connection;
const accountModel = (c: Connection) => c.model('Account', accountSchema);
let Account: ReturnType<typeof accountModel>;

beforeAll(async () => {
  mongoose.set('transactionAsyncLocalStorage', true);
  conn = await connect();
  Account = accountModel(conn);
  await Account.createCollection().catch(() => {});
});
afterAll(async () => {
  await logger.close();
});

const logsOf = (fn: () => Promise<unknown>) => logsOfRun(logger, store, fn);

const transient = () =>
  new mongoose.mongo.MongoServerError({ message: 'simulated write conflict', errorLabels: ['TransientTransactionError'] });

describe('mongoose plugin and transactions', () => {
  it('records a committed transaction (session passed explicitly) when it commits', async () => {
    const [a, b] = await Account.create([
      { name: 'a', balance: 10 },
      { name: 'b', balance: 0 },
    ]);
    const logs = await logsOf(async () => {
      const session = await conn.startSession();
      await session.withTransaction(async () => {
        await Account.updateOne({ _id: a!._id }, { $inc: { balance: -4 } }, { session });
        const loaded = (await Account.findById(b!._id).session(session))!;
        loaded.balance = 4;
        await loaded.save({ session });
      });
      await session.endSession();
    });
    expect(logs.map((l) => [l.model_id, l.model_details.old_object?.balance, l.model_details.new_object?.balance])).toEqual([
      [String(a!._id), 10, 6],
      [String(b!._id), 0, 4],
    ]);
  });

  it('records nothing of a transaction that aborts', async () => {
    const [a] = await Account.create([{ name: 'c', balance: 1 }]);
    const logs = await logsOf(async () => {
      await expect(
        conn.transaction(async () => {
          await Account.updateOne({ _id: a!._id }, { $inc: { balance: 100 } });
          await Account.create([{ name: 'ghost', balance: 0 }]);
          throw new Error('insufficient funds');
        }),
      ).rejects.toThrow('insufficient funds');
    });
    expect(logs).toEqual([]);
    expect((await Account.findById(a!._id).lean())!.balance).toBe(1);
  });

  it('records a transaction retried after a transient error once, with the session from AsyncLocalStorage', async () => {
    const [a] = await Account.create([{ name: 'd', balance: 5 }]);
    let attempts = 0;
    const logs = await logsOf(() =>
      conn.transaction(async () => {
        attempts++;
        await Account.updateOne({ _id: a!._id }, { $inc: { balance: 1 } });
        if (attempts === 1) throw transient();
      }),
    );
    expect(attempts).toBe(2);
    expect(logs.map((l) => [l.action, l.model_details.old_object?.balance, l.model_details.new_object?.balance])).toEqual([
      ['Updated', 5, 6],
    ]);
    expect((await Account.findById(a!._id).lean())!.balance).toBe(6);
  });
});

describe('mongoose plugin, transactions racing other requests (Express)', () => {
  it('a transaction retried after a write conflict with another request: both requests hold their changes, in order', async () => {
    const [e1, e2] = await Account.create([
      { name: 'e1', balance: 5 },
      { name: 'e2', balance: 7 },
    ]);
    const app = express();
    app.use(actionLog(logger));
    // Another request: a plain write to a document the transaction has in its snapshot.
    app.post('/deposit/:id', async (req, res) => {
      await Account.updateOne({ _id: req.params.id }, { $inc: { balance: 1 } });
      res.json({ ok: true });
    });
    let attempts = 0;
    let base = '';
    app.post('/payday', async (_req, res) => {
      await conn.transaction(async () => {
        attempts++;
        await Account.find({ name: /^e/ }); // the transaction's snapshot
        if (attempts === 1) await fetch(`${base}/deposit/${String(e1!._id)}`, { method: 'POST' });
        await Account.updateMany({ name: /^e/ }, { $inc: { balance: 10 } });
        await Account.bulkWrite([{ updateOne: { filter: { _id: e2!._id }, update: { $set: { name: 'e2!' } } } }]);
        await Account.findOneAndUpdate({ _id: e1!._id }, { $inc: { balance: 100 } });
      });
      res.json({ attempts });
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const reply = await fetch(`${base}/payday`, { method: 'POST' });
    server.close();
    expect(reply.status).toBe(200);
    expect(attempts).toBe(2);
    await logger.flush();

    const docs = store.requests().filter((d) => d.details.request?.url.startsWith('/'));
    const logsOfRoute = (route: string) =>
      docs.filter((d) => d.details.request?.url.startsWith(route)).flatMap((d) => d.details.model_logs);
    const row = (l: ModelLog) => [l.model_id, l.model_details.old_object?.balance, l.model_details.new_object?.balance];
    // The deposit committed first; the retried transaction then changed what the deposit left.
    expect(logsOfRoute('/deposit').map(row)).toEqual([[String(e1!._id), 5, 6]]);
    expect(logsOfRoute('/payday').map(row)).toEqual([
      [String(e1!._id), 6, 16],
      [String(e2!._id), 7, 17],
      [String(e2!._id), 17, 17],
      [String(e1!._id), 16, 116],
    ]);
    expect((await Account.findById(e1!._id).lean())!.balance).toBe(116);
  });
});

describe('mongoose plugin before the connection opens', () => {
  it('attributes buffered operations to the requests that issued them', async () => {
    const schema = new Schema({ owner: String });
    schema.plugin(actionLogPlugin(logger));
    const late = mongoose.createConnection();
    const Note = late.model('Note', schema);
    const first = logger.run({ requestUuid: 'buffered-1' }, async () => {
      const note = await Note.create({ owner: 'one' });
      await Note.updateOne({ _id: note._id }, { $set: { owner: 'one!' } });
    });
    const second = logger.run({ requestUuid: 'buffered-2' }, () => Note.create({ owner: 'two' }));
    await new Promise((r) => setTimeout(r, 50));
    expect(late.readyState).toBe(0);
    await late.openUri(mongoUri(), { dbName: freshDatabaseName() });
    await Promise.all([first, second]);
    await logger.flush();
    const owners = (uuid: string) =>
      store
        .requests()
        .find((d) => d.request_uuid === uuid)!
        .details.model_logs.map((l) => [l.action, l.model_details.new_object?.owner]);
    expect(owners('buffered-1')).toEqual([
      ['Created', 'one'],
      ['Updated', 'one!'],
    ]);
    expect(owners('buffered-2')).toEqual([['Created', 'two']]);
    await late.dropDatabase();
    await late.close();
  });
});
