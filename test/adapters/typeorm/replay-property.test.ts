import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore } from 'actionlog';
import { ActionLogSubscriber } from 'actionlog/typeorm';
import type { DataSource } from 'typeorm';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { Basket, BasketItem, BasketNote, TEST_ENTITIES } from '../../support/typeorm-entities.js';
import { logsOf } from '../../support/logs.js';
import { asObject, readState, replay } from './database-state.js';
import { call, runCall, seed } from './write-calls.js';

/*
 * Random sequences of write calls over a small model (a basket, its items and notes), failing ones included: after
 * every call, the model logs recorded so far, replayed over the rows the sequence started from, give exactly the
 * rows the database holds, read with plain SQL; nothing missing, nothing twice, no error reported.
 */

const TABLES = [Basket, BasketItem, BasketNote];
const RUNS = 300;

describe.each(SQL_KINDS)('model logs replayed after random write calls on %s', (kind) => {
  let db: SqlDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: TEST_ENTITIES });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await db.drop();
  });

  async function reset(): Promise<void> {
    ds.subscribers.splice(0, ds.subscribers.length);
    for (const entity of [BasketNote, BasketItem, Basket]) await ds.getRepository(entity).createQueryBuilder().delete().execute();
    await seed(ds.manager);
  }

  it(`gives the database's rows after every call (${String(RUNS)} seeded runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 6 }), async (calls) => {
        await reset();
        const errors: Error[] = [];
        const store = new MemoryStore();
        const logger: ActionLogger = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => void errors.push(error) });
        ds.subscribers.push(new ActionLogSubscriber(logger));
        try {
          let replayed = await readState(ds, TABLES);
          for (const [i, c] of calls.entries()) {
            const logs = await logsOf(logger, store, () => runCall(ds.manager, c));
            const { state, problems } = replay(replayed, logs);
            expect(problems, `call ${String(i)}`).toEqual([]);
            expect(asObject(state), `call ${String(i)}`).toEqual(asObject(await readState(ds, TABLES)));
            expect(errors.map(String), `call ${String(i)}`).toEqual([]);
            replayed = state;
          }
        } finally {
          await logger.close();
        }
      }),
      { seed: 20251129, numRuns: RUNS },
    );
  }, 600_000);
});
