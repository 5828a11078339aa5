import { afterEach, describe, expect, it } from 'vitest';
import {
  ActionLogConfigError,
  type ActionLogger,
  type ActionLoggerOptions,
  ActionLogValidationError,
  createActionLogger,
  MemoryStore,
  type Store,
} from 'actionlog';

const loggers: ActionLogger[] = [];
function make(options: Partial<ActionLoggerOptions> = {}, store: MemoryStore = new MemoryStore()) {
  const logger = createActionLogger({ flushIntervalMs: 0, onError: () => undefined, ...options, store });
  loggers.push(logger);
  return { logger, store };
}
afterEach(async () => {
  await Promise.all(loggers.splice(0).map((l) => l.close()));
});

function makePlain(): { logger: ActionLogger } {
  const logger = createActionLogger({ flushIntervalMs: 0, onError: () => undefined, store: plainStore() });
  loggers.push(logger);
  return { logger };
}

/** A store without the optional purge and deactivate. */
function plainStore(): Store {
  const memory = new MemoryStore();
  return {
    write: (batch) => memory.write(batch),
    append: (appends) => memory.append(appends),
    query: (query) => memory.query(query),
    count: (kind, filter) => memory.count(kind, filter),
    facets: (query) => memory.facets(query),
    close: () => memory.close(),
  };
}

async function oneAction(logger: ActionLogger): Promise<string> {
  await logger.run({ user: 'u1' }, () => {
    logger.record({ action: 'approve' });
  });
  await logger.flush();
  const [entry] = (await logger.query({ kind: 'actions' })).items;
  return String(entry!._id);
}

describe('logger.purge', () => {
  it.each([
    ['before', { before: 'yesterday' }, 'must be a valid date'],
    ['before', { before: 5 }, 'must be a Date or an ISO 8601 string'],
    ['batchSize', { batchSize: 0 }, 'must be at least 1'],
    ['batchSize', { batchSize: 1.5 }, 'must be an integer'],
    ['batchSize', { batchSize: 20_000 }, 'must be at most 10000'],
    ['olderThan', { olderThan: new Date() }, 'unknown field'],
  ])('refuses a bad %s, naming it, before deleting anything', async (path, options, message) => {
    const { logger, store } = make({ retentionDays: 1 });
    await oneAction(logger);
    const error = await logger.purge(options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionLogValidationError);
    expect((error as ActionLogValidationError).issues[0]).toMatchObject({ path });
    expect((error as Error).message).toContain(message);
    expect(await store.count('actions', {})).toBe(1);
  });

  it('refuses a store without purge(), naming the store', async () => {
    const { logger } = makePlain();
    await expect(logger.purge()).rejects.toMatchObject({ name: 'ActionLogConfigError', issues: [{ path: 'store' }] });
  });

  it('finishes on a rerun what a purge cut short left, deleting each entry once', async () => {
    const store = new MemoryStore();
    const { logger } = make({}, store);
    for (let i = 0; i < 25; i++) {
      await logger.run({ user: 'u1' }, () => {
        logger.record({ action: 'approve', emitted_at: new Date(Date.UTC(2020, 0, 1, 0, i)) });
      });
    }
    await logger.flush();
    // The store fails on its third batch, as a process killed mid-purge would stop there.
    const purge = store.purge.bind(store);
    let calls = 0;
    store.purge = async (query) => {
      if (++calls === 3) throw new Error('connection lost');
      return purge(query);
    };
    const before = new Date(Date.UTC(2021, 0, 1));
    await expect(logger.purge({ before, batchSize: 10 })).rejects.toThrow('connection lost');
    // Requests are of now (their run's time): none is old. Of the actions, one batch of 10 went before the failure.
    expect(await logger.count({ kind: 'actions' })).toBe(15);
    expect(await logger.purge({ before, batchSize: 10 })).toEqual({ requests: 0, actions: 15, changes: 0, activities: 0, attachments: 0 });
    expect(await logger.count({ kind: 'actions' })).toBe(0);
    expect(await logger.count({ kind: 'requests' })).toBe(25);
  });

  it('deletes entries recorded with retentionDays once they expire, and only then', async () => {
    const { logger } = make({ retentionDays: 1 });
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'approve', emitted_at: new Date(Date.now() - 2 * 24 * 3600 * 1000) });
      logger.record({ action: 'reject' });
    });
    await logger.flush();
    // The one emitted two days ago expired a day ago: no read returns it, purge deletes it.
    expect((await logger.query({ kind: 'actions' })).items.map((a) => a.action_type)).toEqual(['reject']);
    expect(await logger.purge()).toEqual({ requests: 0, actions: 1, changes: 0, activities: 0, attachments: 0 });
    expect(await logger.purge()).toEqual({ requests: 0, actions: 0, changes: 0, activities: 0, attachments: 0 });
    expect(await logger.count({ kind: 'actions' })).toBe(1);
  });
});

describe('logger.archive', () => {
  it.each([
    ['to', {}, 'must be a writable stream or a Store'],
    ['to', { to: { write: 1 } }, 'must be a writable stream or a Store'],
    ['before', { to: new MemoryStore(), before: 'yesterday' }, 'must be a valid date'],
    ['batchSize', { to: new MemoryStore(), batchSize: 0 }, 'must be at least 1'],
  ])('refuses a bad %s, naming it, before moving anything', async (path, options, message) => {
    const { logger, store } = make({ retentionDays: 1 });
    await oneAction(logger);
    const error = await logger.archive(options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionLogValidationError);
    expect((error as ActionLogValidationError).issues[0]).toMatchObject({ path });
    expect((error as Error).message).toContain(message);
    expect(await store.count('actions', {})).toBe(1);
  });

  it('refuses its own store as the destination, and a store without remove()', async () => {
    const { logger, store } = make();
    await expect(logger.archive({ to: store })).rejects.toMatchObject({ name: 'ActionLogValidationError', issues: [{ path: 'to' }] });
    await expect(makePlain().logger.archive({ to: new MemoryStore() })).rejects.toMatchObject({
      name: 'ActionLogConfigError',
      issues: [{ path: 'store' }],
    });
  });

  it('memory to memory: a destination failing mid-write, then a rerun, leaves every action once, none left behind', async () => {
    const { logger } = make();
    for (let i = 0; i < 25; i++) {
      await logger.run({ user: 'u1' }, () => {
        logger.record({ action: 'approve', note: `n${i}`, emitted_at: new Date(Date.UTC(2020, 0, 1, 0, i)) });
      });
    }
    await logger.flush();
    const archive = new MemoryStore();
    const write = archive.write.bind(archive);
    let calls = 0;
    // The third batch reaches the archive, then the process dies before the write is confirmed.
    archive.write = async (batch) => {
      await write(batch);
      if (++calls === 3) throw new Error('killed');
    };
    const before = new Date(Date.UTC(2021, 0, 1));
    await expect(logger.archive({ before, to: archive, batchSize: 10 })).rejects.toThrow('killed');
    expect(await logger.count({ kind: 'actions' })).toBe(5);
    archive.write = write;
    expect(await logger.archive({ before, to: archive, batchSize: 10 })).toEqual({ requests: 0, actions: 5, changes: 0, activities: 0 });
    expect(await logger.count({ kind: 'actions' })).toBe(0);
    const notes = (await archive.query({ kind: 'actions', filter: {}, by: 'time', order: 'asc', limit: 100 })).map((e) => e.entry.note);
    expect(notes).toEqual(Array.from({ length: 25 }, (_, i) => `n${i}`));
    expect(await logger.count({ kind: 'requests' })).toBe(25);
  });
});

describe('retention overrides', () => {
  it.each([
    ['retention.models.orders', { models: { orders: 0 } }, 'must be positive'],
    ['retention.models.orders', { models: { orders: '30' } }, 'must be a number of days'],
    ['retention.actionTypes.log-in', { actionTypes: { 'log-in': 7 } }, 'must match [A-Za-z0-9_]+'],
    ['retention.actionTypes.logout', { actionTypes: { logout: 7 } }, 'is not an allowed action type (allowed: login, approve)'],
    ['retention.roles', { roles: { admin: 7 } }, 'unknown field'],
    ['retention', [7], 'must be { models?, actionTypes? }'],
  ])('refuses %s, naming it', (path, retention, message) => {
    const error = (() => {
      try {
        createActionLogger({ store: new MemoryStore(), actionTypes: ['login', 'approve'], retention: retention as never });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ActionLogConfigError);
    expect((error as ActionLogConfigError).issues).toEqual([expect.objectContaining({ path })]);
    expect((error as Error).message).toContain(message);
  });

  it('stamps each mirror entry by its own rule and the request document by its longest', async () => {
    const { logger, store } = make({ retentionDays: 30, retention: { actionTypes: { login: 7, contract_signed: 3650 } } });
    const at = new Date('2026-01-01T00:00:00Z');
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'login', emitted_at: at });
      logger.record({ action: 'contract_signed', emitted_at: at });
    });
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'login', emitted_at: at });
    });
    await logger.flush();
    const days = (doc: { expires_at?: Date }, from: Date) => ((doc.expires_at?.getTime() ?? NaN) - from.getTime()) / (24 * 3600 * 1000);
    expect(store.actions().map((a) => [a.action_type, days(a, at)])).toEqual([
      ['login', 7],
      ['contract_signed', 3650],
      ['login', 7],
    ]);
    expect(store.requests().map((r) => days(r, r.timestamp))).toEqual([3650, 30]);
  });

  it('without retentionDays, expires only the entries an override names, and no request document', async () => {
    const { logger, store } = make({ retention: { actionTypes: { login: 7 } } });
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'login' });
      logger.record({ action: 'approve' });
    });
    await logger.flush();
    expect(store.actions().map((a) => [a.action_type, a.expires_at instanceof Date])).toEqual([
      ['login', true],
      ['approve', false],
    ]);
    expect(store.requests()[0]!.expires_at).toBeUndefined();
  });
});

describe('logger.deactivate', () => {
  it.each([
    ['entryId', '', { reason: 'r', actor: 'a' }, "must be an entry's _id"],
    ['entryId', { id: 1 }, { reason: 'r', actor: 'a' }, "must be an entry's _id"],
    ['reason', 'x', { actor: 'a' }, 'is required'],
    ['reason', 'x', { reason: '', actor: 'a' }, 'must not be empty'],
    ['actor', 'x', { reason: 'r', actor: '' }, 'must be a non-empty string or a number'],
    ['actor', 'x', { reason: 'r' }, 'the current scope has no user'],
    ['because', 'x', { reason: 'r', actor: 'a', because: 'b' }, 'unknown field'],
  ])('refuses a bad %s, naming it, and changes nothing', async (path, entryId, options, message) => {
    const { logger } = make();
    await oneAction(logger);
    const error = await logger.deactivate(entryId, options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionLogValidationError);
    expect((error as ActionLogValidationError).issues.map((i) => i.path)).toContain(path);
    expect((error as Error).message).toContain(message);
    expect(await logger.count({ kind: 'actions' })).toBe(1);
  });

  it('refuses when there is no action mirror or the store cannot change entries', async () => {
    const { logger } = make({ actionLogs: false });
    await expect(logger.deactivate('x', { reason: 'r', actor: 'a' })).rejects.toMatchObject({
      name: 'ActionLogConfigError',
      issues: [{ path: 'actionLogs' }],
    });
    const plain = makePlain().logger;
    const error = await plain.deactivate('x', { reason: 'r', actor: 'a' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionLogConfigError);
    expect((error as ActionLogConfigError).issues).toEqual([expect.objectContaining({ path: 'store' })]);
  });

  it('records the deactivation outside any scope as a document of its own, even with outsideContext: ignore', async () => {
    const { logger, store } = make({ outsideContext: 'ignore', actionTypes: ['approve'] });
    const id = await oneAction(logger);
    const entry = await logger.deactivate(id, { reason: 'duplicate', actor: 42 });
    expect(entry).toMatchObject({ action_type: 'deactivate', actor_id: '42', target_id: id, note: 'duplicate' });
    await logger.flush();
    const requests = store.requests();
    expect(requests).toHaveLength(2);
    expect(requests[1]!.details.actions).toEqual([expect.objectContaining({ action_type: 'deactivate', actor_id: '42' })]);
    expect(await logger.count({ kind: 'actions', include_inactive: true })).toBe(2);
    expect(await logger.count({ kind: 'actions' })).toBe(1);
  });
});
