import { setTimeout as sleep } from 'node:timers/promises';
import { type Db, type Document, Long, MongoClient, ObjectId, type ServerHeartbeatSucceededEvent } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabaseName, mongoUri, useMongoDatabase, serverError } from '../../../../support/mongo-db.js';
import { FaultProxy } from '../../../../support/tcp-proxy.js';

/**
 * How the driver watches the server, on whichever MongoDB the run uses: the awaitable hello of server monitoring,
 * and a driver that finds the server again after it went away. Without `topologyVersion` a driver falls back to
 * polling and keeps its monitor connection across a network error, which can leave it waiting forever on a socket
 * that is already closed.
 */
const connect = useMongoDatabase();
let db: Db;
beforeAll(async () => ({ db } = await connect()));

describe('MongoDB as the driver monitors it', () => {
  it('reports a topologyVersion, and holds an awaitable hello that knows it until maxAwaitTimeMS', async () => {
    const admin = db.admin();
    const { topologyVersion } = (await admin.command({ hello: 1 })) as { topologyVersion: { processId: ObjectId; counter: Long } };
    expect(topologyVersion.processId).toBeInstanceOf(ObjectId);
    let held = false;
    const current = admin.command({ hello: 1, topologyVersion, maxAwaitTimeMS: 1500 }).then((reply) => {
      held = true;
      return reply;
    });
    // Another process's version (the server restarted since) is answered at once, while the current one waits.
    const restarted = await admin.command({
      hello: 1,
      topologyVersion: { processId: new ObjectId(), counter: Long.fromNumber(0) },
      maxAwaitTimeMS: 1500,
    });
    expect(restarted.topologyVersion).toEqual(topologyVersion);
    expect(held).toBe(false);
    expect((await current).topologyVersion).toEqual(topologyVersion);
  });

  it('refuses the awaitable hello options MongoDB refuses', async () => {
    const admin = db.admin();
    const { topologyVersion } = (await admin.command({ hello: 1 })) as { topologyVersion: Document };
    const code = async (command: Document) => (await serverError(admin.command(command))).code;
    expect(await code({ hello: 1, topologyVersion })).toBe(31368);
    expect(await code({ hello: 1, maxAwaitTimeMS: 10 })).toBe(31368);
    const ahead = { ...topologyVersion, counter: Long.fromNumber(Number(topologyVersion.counter) + 1) };
    expect(await code({ hello: 1, topologyVersion: ahead, maxAwaitTimeMS: 10 })).toBe(31382);
    expect(await code({ hello: 1, topologyVersion: { ...topologyVersion, counter: Long.fromNumber(-1) }, maxAwaitTimeMS: 10 })).toBe(31372);
  });

  it('is monitored by streaming: the driver awaits its heartbeats', async () => {
    const client = new MongoClient(mongoUri(), { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 10_000 });
    const awaited: ServerHeartbeatSucceededEvent[] = [];
    client.on('serverHeartbeatSucceeded', (event) => {
      if (event.awaited) awaited.push(event);
    });
    await client.connect();
    for (const started = Date.now(); awaited.length < 2 && Date.now() - started < 10_000;) await sleep(50);
    await client.close();
    expect(awaited.length).toBeGreaterThanOrEqual(2);
  });
});

describe('a driver whose server goes away and comes back', () => {
  let proxy: FaultProxy;
  let client: MongoClient;
  const name = freshDatabaseName();
  beforeAll(async () => {
    proxy = FaultProxy.fromUri(mongoUri());
    const address = await proxy.start();
    client = await MongoClient.connect(`mongodb://${address}/?directConnection=true`, { serverSelectionTimeoutMS: 10_000 });
  });
  afterAll(async () => {
    await client.db(name).dropDatabase();
    await client.close();
    await proxy.stop();
  });

  it('writes again soon after each return, its connections cut and new ones refused while away', async () => {
    const c = client.db(name).collection<{ round: number; i: number }>('writes');
    let stop = false;
    let written = 0;
    // Writers busy on the pool at every cut, so that its connections and the monitor's close together.
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        await c.insertOne({ round: w, i }).then(
          () => written++,
          () => sleep(50),
        );
      }
    });
    const recoveries: number[] = [];
    for (let round = 0; round < 5; round++) {
      await sleep(300);
      await proxy.away();
      await sleep(500);
      await proxy.back();
      const back = Date.now();
      const before = written;
      for (; written === before && Date.now() - back < 15_000;) await sleep(20);
      recoveries.push(written > before ? Date.now() - back : Infinity);
    }
    stop = true;
    await Promise.all(writers);
    // A server that is back is found within a few heartbeats (500 ms apart while it is unknown), never waited for forever.
    expect(recoveries.every((ms) => ms < 5000)).toBe(true);
  });
});
