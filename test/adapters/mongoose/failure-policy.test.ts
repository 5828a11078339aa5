import { randomUUID } from 'node:crypto';
import mongoose, { type Connection, Schema } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionLogStoreError, createActionLogger } from 'actionlog';
import { actionLogPlugin } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { FlakyStore } from '../../support/stores.js';

const store = new FlakyStore();
// A long interval: what is stored before the run ends was stored on the transaction's path.
const logger = createActionLogger({ store, onStoreError: 'throw', flushIntervalMs: 60_000, retryDelayMs: 1, onError: () => {} });
const accountSchema = new Schema({ name: String, balance: Number });
accountSchema.plugin(actionLogPlugin(logger));
const connect = useMongooseConnection();
let conn: Connection;
const accountModel = (c: Connection) => c.model('StrictAccount', accountSchema);
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

const changesOf = async (requestUuid: string) =>
  (await logger.query({ kind: 'changes', request_uuid: requestUuid })).items.map((c) => [c.action, c.model_details.new_object?.name]);

describe('mongoose plugin under the failure policy "throw"', () => {
  it('stores the changes of a transaction before it commits (connection.transaction)', async () => {
    const requestUuid = randomUUID();
    let seenAfterCommit: unknown[] = [];
    await logger.run({ requestUuid }, async () => {
      await conn.transaction(async () => {
        await Account.create([{ name: 'kept', balance: 1 }]);
      });
      seenAfterCommit = await changesOf(requestUuid);
    });
    expect(seenAfterCommit).toEqual([['Created', 'kept']]);
    expect(await Account.countDocuments({ name: 'kept' })).toBe(1);
    const docs = store.requests().filter((d) => d.request_uuid === requestUuid);
    expect(docs.map((d) => d.details.model_logs.map((l) => l.action))).toEqual([['Created']]);
  });

  it('aborts the transaction when its changes cannot be stored (session.withTransaction)', async () => {
    const requestUuid = randomUUID();
    store.failNext(1);
    let failure: unknown;
    await logger.run({ requestUuid }, async () => {
      const session = await conn.startSession();
      try {
        await session.withTransaction(async () => {
          await Account.create([{ name: 'lost', balance: 1 }], { session });
          await Account.updateOne({ name: 'kept' }, { $inc: { balance: 10 } }, { session });
        });
      } catch (error) {
        failure = error;
      } finally {
        await session.endSession();
      }
    });
    expect(failure).toBeInstanceOf(ActionLogStoreError);
    expect(await Account.countDocuments({ name: 'lost' })).toBe(0);
    expect((await Account.findOne({ name: 'kept' }).lean())!.balance).toBe(1);
    await logger.flush();
    expect(await changesOf(requestUuid)).toEqual([]);
  });

  it('aborts a connection.transaction() as well, and the next transaction is stored as usual', async () => {
    store.failNext(1);
    await expect(conn.transaction(() => Account.create([{ name: 'lost-too', balance: 0 }]))).rejects.toBeInstanceOf(ActionLogStoreError);
    expect(await Account.countDocuments({ name: 'lost-too' })).toBe(0);
    const requestUuid = randomUUID();
    await logger.run({ requestUuid }, () => conn.transaction(() => Account.create([{ name: 'after', balance: 0 }])));
    expect(await changesOf(requestUuid)).toEqual([['Created', 'after']]);
  });
});
