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

  it('deletes entries recorded with retentionDays once they expire, and only then', async () => {
    const { logger } = make({ retentionDays: 1 });
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'approve', emitted_at: new Date(Date.now() - 2 * 24 * 3600 * 1000) });
      logger.record({ action: 'reject' });
    });
    await logger.flush();
    // The one emitted two days ago expired a day ago: no read returns it, purge deletes it.
    expect((await logger.query({ kind: 'actions' })).items.map((a) => a.action_type)).toEqual(['reject']);
    expect(await logger.purge()).toEqual({ requests: 0, actions: 1, changes: 0, activities: 0 });
    expect(await logger.purge()).toEqual({ requests: 0, actions: 0, changes: 0, activities: 0 });
    expect(await logger.count({ kind: 'actions' })).toBe(1);
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
