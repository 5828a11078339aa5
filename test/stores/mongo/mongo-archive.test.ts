import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionLogDocument, MongoStore } from 'actionlog';
import { freshDatabaseName, mongoUri } from '../../support/mongo-db.js';
import { failOnWarning } from '../../support/matchers.js';
import { action } from '../../support/store-contract.js';

let client: MongoClient;
beforeAll(async () => {
  client = await MongoClient.connect(mongoUri());
});
afterAll(async () => {
  await client.close();
});

describe('MongoStore as the archive of a SqlStore', () => {
  it('an archive run rerun after a kill stores an entry of an earlier version (no uid) once, as its _id made it before', async () => {
    const db = client.db(freshDatabaseName());
    const store = new MongoStore({ db });
    await store.init({ actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning });
    // What archive reads from a SqlStore: the row number as _id; an entry of a version before uids.
    const copy = (): ActionLogDocument => {
      const { uid: _uid, ...legacy } = { ...action('create', 1), request_uuid: 'r1', module: 'm' } as ActionLogDocument & { uid?: string };
      return { ...legacy, _id: 17 };
    };
    const write = (actionLogs: ActionLogDocument[]) => store.write({ requests: [], actionLogs, modelLogs: [], activities: [] });
    // The batch copied, the run killed before the source deleted it; the rerun reads and copies it again.
    await write([copy()]);
    await write([copy()]);
    expect(await db.collection(store.collections.actionLogs).countDocuments({})).toBe(1);
    await db.dropDatabase();
  });
});
