import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ActionLogger, ActionLogStoreError, createActionLogger } from 'actionlog';
import { ActionLogSubscriber } from 'actionlog/typeorm';
import type { DataSource } from 'typeorm';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { TEST_ENTITIES, Ticket } from '../../support/typeorm-entities.js';
import { FlakyStore } from '../../support/stores.js';
import { type RunningApp, startApp } from '../../support/apps.js';
import { Client } from '../../support/client.js';

describe.each(SQL_KINDS)('TypeORM subscriber under the failure policy "throw", on %s', (kind) => {
  let db: SqlDatabase;
  let ds: DataSource;
  let store: FlakyStore;
  let logger: ActionLogger;

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: TEST_ENTITIES });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await db.drop();
  });

  function attach(): void {
    ds.subscribers.splice(0, ds.subscribers.length);
    store = new FlakyStore();
    // A long interval: what is stored before the run ends was stored on the transaction's path.
    logger = createActionLogger({ store, onStoreError: 'throw', flushIntervalMs: 60_000, retryDelayMs: 1, onError: () => {} });
    ds.subscribers.push(new ActionLogSubscriber(logger));
  }
  afterEach(async () => {
    await logger.close();
    ds.subscribers.splice(0, ds.subscribers.length);
  });

  const titles = async () => (await ds.getRepository(Ticket).find({ order: { id: 'ASC' } })).map((t) => t.title);
  const changesOf = async (requestUuid: string) =>
    (await logger.query({ kind: 'changes', request_uuid: requestUuid })).items.map((c) => [c.action, c.model_details.new_object?.title]);

  it('stores the changes of a transaction before it commits, in the document of their scope', async () => {
    attach();
    const requestUuid = randomUUID();
    let seenAfterCommit: unknown[] = [];
    await logger.run({ requestUuid }, async () => {
      await ds.transaction(async (m) => {
        await m.save(Ticket, { title: `kept-${kind}` });
      });
      // The scope is still open: only the transaction's own write can have stored this.
      seenAfterCommit = await changesOf(requestUuid);
    });
    expect(seenAfterCommit).toEqual([['Created', `kept-${kind}`]]);
    expect(await titles()).toContain(`kept-${kind}`);
    const [doc, ...rest] = store.requests().filter((d) => d.request_uuid === requestUuid);
    expect(rest).toEqual([]);
    // The append and the document merged into one, stored once.
    expect(doc!.details.model_logs.map((l) => [l.action, l.model_details.new_object?.title])).toEqual([['Created', `kept-${kind}`]]);
    expect(doc!.details.run).toMatchObject({ error: null });
  });

  it('rolls the transaction back when its changes cannot be stored', async () => {
    attach();
    const requestUuid = randomUUID();
    store.failNext(1);
    let failure: unknown;
    await logger.run({ requestUuid }, async () => {
      failure = await ds
        .transaction(async (m) => {
          await m.save(Ticket, { title: `lost-${kind}` });
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
    });
    expect(failure).toBeInstanceOf(ActionLogStoreError);
    expect(await titles()).not.toContain(`lost-${kind}`);
    // Nothing of the rolled-back change reached the trail, now or later.
    await logger.flush();
    expect(await changesOf(requestUuid)).toEqual([]);
    expect(store.requests().find((d) => d.request_uuid === requestUuid)?.details.model_logs).toEqual([]);
  });

  it('keeps savepoints as they are: only the outermost commit stores', async () => {
    attach();
    const requestUuid = randomUUID();
    await logger.run({ requestUuid }, async () => {
      await ds.transaction(async (m) => {
        await m.save(Ticket, { title: `outer-${kind}` });
        await m
          .transaction(async (inner) => {
            await inner.save(Ticket, { title: `inner-${kind}` });
            throw new Error('undo the savepoint');
          })
          .catch(() => undefined);
      });
    });
    expect(await changesOf(requestUuid)).toEqual([['Created', `outer-${kind}`]]);
  });

  it('fails the HTTP request whose transaction could not store its changes (Express)', async () => {
    attach();
    let app: RunningApp | undefined;
    try {
      app = await startApp('express', {
        logger,
        routes: {
          'POST /tickets/:title': async ({ params }) => {
            await ds.transaction(async (m) => m.save(Ticket, { title: params.title! }));
            return { status: 201 };
          },
        },
      });
      const http = new Client(app.url);
      store.failNext(1);
      const reply = await http.send(`/tickets/http-${kind}`, { method: 'POST' });
      http.close();
      // The transaction failed, the app's error handler answered it: the row was never committed.
      expect(reply.status).toBe(500);
      expect(await titles()).not.toContain(`http-${kind}`);
      await logger.flush();
      const doc = store.requests().find((d) => d.request_uuid === reply.headers['x-request-id']);
      expect(doc?.details.response?.status_code).toBe(500);
      expect(doc?.details.model_logs).toEqual([]);
    } finally {
      await app?.close();
    }
  });
});
