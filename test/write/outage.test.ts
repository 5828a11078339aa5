import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { createActionLogger, MongoStore, SqlStore, type Store } from 'actionlog';
import { actionLogEntities } from 'actionlog/typeorm';
import { orderChange } from '../../examples/shared/orders.js';
import { startPostgres } from '../../examples/shared/databases/postgres.js';
import { startApp } from '../support/apps.js';
import { Client } from '../support/client.js';
import { freshDatabaseName, mongoUri } from '../support/mongo-db.js';
import { storedCounts } from '../support/stores.js';
import { FaultProxy } from '../support/tcp-proxy.js';

/** The issue's figure is 120 s (`ACTIONLOG_OUTAGE_SECONDS=120`); the suite's run keeps CI short. */
const OUTAGE_SECONDS = Number(process.env.ACTIONLOG_OUTAGE_SECONDS ?? 15);
const RATE = 100;
const MIB = 1024 * 1024;

// What the process holds on to, rather than what garbage the collector has not taken yet: the heap after a full GC.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  collect();
  return process.memoryUsage().heapUsed;
}

const folder = mkdtempSync(join(tmpdir(), 'actionlog-outage-'));
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

/** A store whose database can be taken away and brought back, and a way to read it directly. */
interface AwayStore {
  store: Store;
  away(): Promise<void>;
  back(): Promise<void>;
  /** A store on the same database that does not go through the outage. */
  reader(): Promise<Store>;
  close(): Promise<void>;
}

async function postgresStoppedAndStarted(): Promise<AwayStore> {
  const server = await startPostgres();
  const dataSource = new DataSource({ type: 'postgres', url: server.url, entities: actionLogEntities('postgres'), synchronize: true });
  await dataSource.initialize();
  return {
    store: new SqlStore({ dataSource }),
    away: () => server.halt!(),
    back: () => server.resume!(),
    reader: async () => new SqlStore({ dataSource }),
    close: async () => {
      await dataSource.destroy();
      await server.stop();
    },
  };
}

/** The run's MongoDB behind a proxy that closes every connection and refuses new ones while away. */
async function mongoBehindProxy(): Promise<AwayStore> {
  const proxy = FaultProxy.fromUri(mongoUri());
  const address = await proxy.start();
  const name = freshDatabaseName();
  const proxied = await MongoClient.connect(`mongodb://${address}/?directConnection=true`, { serverSelectionTimeoutMS: 10_000 });
  const direct = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
  return {
    store: new MongoStore({ db: proxied.db(name) }),
    away: () => proxy.away(),
    back: () => proxy.back(),
    reader: async () => new MongoStore({ db: direct.db(name) }),
    close: async () => {
      await direct.db(name).dropDatabase();
      await Promise.all([proxied.close(), direct.close()]);
      await proxy.stop();
    },
  };
}

describe.each([
  ['PostgreSQL stopped and started again', postgresStoppedAndStarted],
  ['MongoDB through a proxy that goes away and comes back', mongoBehindProxy],
])(`with a spool, the store away for ${OUTAGE_SECONDS} s under steady HTTP load: %s`, (_name, open) => {
  it(
    'fails no request, then stores every answered request exactly once, with memory bounded',
    async () => {
      const target = await open();
      const errors: Error[] = [];
      const logger = createActionLogger({
        store: target.store,
        spool: { dir: mkdtempSync(join(folder, 'spool-')) },
        onError: (e) => errors.push(e),
      });
      const app = await startApp('express', {
        logger,
        routes: {
          'POST /orders/:id': async ({ params }) => {
            logger.recordModelChange(orderChange(params.id!, { new_object: { _id: params.id, status: 'paid' } }));
            return { status: 201 };
          },
        },
      });
      const client = new Client(app.url, 16);
      const rss: number[] = [];
      const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 250);
      // Only what the assertions need is kept of each reply, so that the heap measures the logger, not the load.
      const answered: string[] = [];
      const failed: number[] = [];
      const inFlight = new Set<Promise<void>>();
      let sent = 0;
      const send = async (seconds: number) => {
        const started = Date.now();
        for (let i = 0; Date.now() - started < seconds * 1000; i++) {
          const due = started + (i * 1000) / RATE;
          if (due > Date.now()) await sleep(due - Date.now());
          const reply = client.send(`/orders/${sent++}`, { method: 'POST' }).then(
            (r) => {
              if (r.status === 201) answered.push(String(r.headers['x-request-id']));
              else failed.push(r.status);
            },
            () => {
              failed.push(0);
            },
          );
          inFlight.add(reply);
          void reply.then(() => inFlight.delete(reply));
        }
      };

      await send(2);
      const before = rss.at(-1) ?? process.memoryUsage().rss;
      await target.away();
      // What the process holds as the backlog grows, from a third of the outage to its end (past the warm-up).
      await send(OUTAGE_SECONDS / 3);
      const heapThird = heapAfterGc();
      const third = logger.stats().spool!.pending;
      await send((OUTAGE_SECONDS * 2) / 3);
      const during = logger.stats();
      const heapHeld = heapAfterGc() - heapThird;
      const heldPerDocument = heapHeld / (during.spool!.pending - third);
      await target.back();
      const returned = Date.now();
      await send(3);
      await Promise.all(inFlight);
      // Within a minute of its return the store has the backlog.
      await Promise.race([logger.flush(), sleep(60_000)]);
      const drainedAfter = (Date.now() - returned) / 1000;
      clearInterval(sampler);
      await logger.close({ timeout: 5000 });
      await app.close();
      client.close();

      const peak = Math.max(...rss);
      console.log(
        `[outage ${OUTAGE_SECONDS} s] ${answered.length} answered, spool peak ${during.spool!.pending} documents, all stored ${drainedAfter.toFixed(1)} s after the return (3 s of it still under load); RSS ${(before / MIB).toFixed(1)} → peak ${(peak / MIB).toFixed(1)} MiB, heap after GC from a third of the outage to its end +${(heapHeld / MIB).toFixed(1)} MiB (${heldPerDocument.toFixed(0)} B a spooled document); ${errors.length} errors reported, the last: ${errors
          .slice(-2)
          .map((e) => `${e.message} (${String((e.cause as Error | undefined)?.message)})`)
          .join('; ')}`,
      );
      expect({ sent, failed }).toEqual({ sent: answered.length, failed: [] });
      expect(during.spool!.pending).toBeGreaterThan(0);
      const counts = await storedCounts(await target.reader());
      const missing = answered.filter((id) => !counts.has(id)).length;
      const twice = answered.filter((id) => (counts.get(id) ?? 0) > 1).length;
      expect({ answered: answered.length, missing, twice }).toEqual({ answered: answered.length, missing: 0, twice: 0 });
      // The backlog waited on disk: what the process holds grew by well under what a built document takes in
      // memory (a request document and its mirror: a spool line of ~1.2 kB, several kB as objects). The window is
      // short in the suite's run, where the JIT's own growth weighs: the bound is loose, the figure is printed.
      expect(heldPerDocument).toBeLessThan(1536);
      expect((peak - before) / MIB).toBeLessThan(160);
      expect(logger.stats()).toMatchObject({ dropped: 0 });
      await target.close();
    },
    (OUTAGE_SECONDS + 120) * 1000,
  );
});
