import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionLogConfigError, type ActionLogger, ActionLogValidationError, createActionLogger, MemoryStore } from 'actionlog';
import { openStore, type OpenedStore, STORE_KINDS } from '../support/every-store.js';

const logger = createActionLogger({ store: new MemoryStore() });

/** The field an error names: refused inputs must say which field is wrong. */
async function refusal(read: () => Promise<unknown>): Promise<string> {
  try {
    await read();
  } catch (error) {
    if (error instanceof ActionLogValidationError) return error.issues.map((i) => `${i.path}: ${i.message}`).join(' | ');
    throw error;
  }
  throw new Error('not refused');
}

describe('read input', () => {
  const q = (filter: unknown, options?: unknown) => () => logger.query(filter as never, options as never);

  it.each([
    ['no kind', q({}), 'kind: must be one of requests, actions, changes, activities'],
    ['an unknown kind', q({ kind: 'logs' }), 'kind: must be one of requests, actions, changes, activities'],
    ['not an object', q('actions'), ': must be an object with a kind (requests, actions, changes, activities)'],
    ['an unknown filter', q({ kind: 'actions', note: 'x' }), 'note: unknown filter'],
    ['a misspelt filter', q({ kind: 'actions', acton_type: 'x' }), 'acton_type: unknown filter (did you mean "action_type"?)'],
    [
      'a filter of another kind',
      q({ kind: 'requests', action_type: 'x' }),
      'action_type: does not apply to requests (it applies to actions)',
    ],
    ['a custom field on changes', q({ kind: 'changes', 'details.x': 1 }), 'details.x: applies to actions only'],
    ['a custom field of an object', q({ kind: 'actions', 'details.x': { a: 1 } }), 'details.x: must be a string, a number or a boolean'],
    ['an empty string', q({ kind: 'actions', action_type: '' }), 'action_type: must not be empty'],
    ['a number for a name', q({ kind: 'actions', module: 5 }), 'module: must be a string'],
    ['a bad date', q({ kind: 'actions', from: 'yesterday' }), 'from: must be a valid date'],
    ['a range backwards', q({ kind: 'actions', from: '2026-02-01', to: '2026-01-01' }), 'to: must not be before from'],
    ['a status out of range', q({ kind: 'requests', status: 42 }), 'status: must be an HTTP status (100-599)'],
    ['a fractional status', q({ kind: 'requests', status: 200.5 }), 'status: must be an integer'],
    [
      'an unknown change action',
      q({ kind: 'changes', action: 'Modified' }),
      'action: must be Created, Updated, Deleted, SoftDeleted or Restored',
    ],
    ['a non-boolean flag', q({ kind: 'actions', include_inactive: 'yes' }), 'include_inactive: must be a boolean'],
    ['a limit of 0', q({ kind: 'actions' }, { limit: 0 }), 'limit: must be at least 1'],
    ['a limit over 1000', q({ kind: 'actions' }, { limit: 1001 }), 'limit: must be at most 1000'],
    ['a fractional limit', q({ kind: 'actions' }, { limit: 2.5 }), 'limit: must be an integer'],
    ['an unknown order', q({ kind: 'actions' }, { order: 'newest' }), 'order: must be "asc" or "desc"'],
    ['an unknown option', q({ kind: 'actions' }, { offset: 10 }), 'offset: unknown field'],
    ['a malformed cursor', q({ kind: 'actions' }, { cursor: 'not-a-cursor' }), 'cursor: is not a cursor actionlog returned'],
    ['several bad fields at once', q({ kind: 'actions', module: '', to: 'x' }), 'module: must not be empty | to: must be a valid date'],
  ])('refuses %s, naming the field', async (_case, read, expected) => {
    expect(await refusal(read)).toBe(expected);
  });

  it('refuses a cursor of another query', async () => {
    const store = new MemoryStore();
    const local = createActionLogger({ store, flushIntervalMs: 0 });
    for (let i = 0; i < 3; i++) local.record({ action: 'approve' });
    await local.flush();
    const { next_cursor } = await local.query({ kind: 'actions' }, { limit: 1 });
    expect(next_cursor).toEqual(expect.any(String));
    expect(await refusal(() => local.query({ kind: 'actions', action_type: 'reject' }, { cursor: next_cursor }))).toBe(
      'cursor: belongs to another query (a different kind, order or filter)',
    );
    expect(await refusal(() => local.query({ kind: 'actions' }, { cursor: next_cursor, order: 'asc' }))).toBe(
      'cursor: belongs to another query (a different kind, order or filter)',
    );
    expect(await refusal(() => local.query({ kind: 'requests' }, { cursor: next_cursor }))).toBe(
      'cursor: belongs to another query (a different kind, order or filter)',
    );
    await local.close();
  });

  it('refuses a facet field the kind does not have, and history or stateAt arguments by name', async () => {
    expect(await refusal(() => logger.facets('model', { kind: 'actions' }))).toBe(
      'field: must be one of actor_id, module, action_type, action_category, target_type, tag_type for actions',
    );
    expect(await refusal(() => logger.history('', 1))).toBe('model: must not be empty');
    expect(await refusal(() => logger.stateAt('orders', 1, 'soon'))).toBe('to: must be a valid date');
  });

  it('says which option turns a mirror off when its kind is read', async () => {
    const noMirrors = createActionLogger({ store: new MemoryStore(), actionLogs: false, modelLogs: false });
    await expect(noMirrors.query({ kind: 'actions' })).rejects.toThrow(ActionLogConfigError);
    await expect(noMirrors.history('orders', 1)).rejects.toThrow(/modelLogs: is false: changes are read from their own collection/);
    await noMirrors.close();
  });
});

// Beyond years 0000–9999, SQLite compared ISO text that no longer sorts by time and PostgreSQL threw an untyped
// error: the same filter answered differently per store. Now every store takes the ends and refuses what is past.
describe.each(STORE_KINDS)('dates at the ends of the years 0000–9999 on %s', (kind) => {
  let opened: OpenedStore;
  let local: ActionLogger;
  beforeAll(async () => {
    opened = await openStore(kind);
    local = createActionLogger({ store: opened.store, flushIntervalMs: 0 });
    await local.run({}, () => local.record({ action: 'send', emitted_at: new Date('2026-01-01T00:00:00Z') }));
    await local.flush();
  });
  afterAll(async () => {
    await local.close();
    await opened.close();
  });

  it('reads with the first and the last moment of the range alike', async () => {
    expect(await local.count({ kind: 'actions', from: '0000-01-01T00:00:00Z', to: '9999-12-31T23:59:59.999Z' })).toBe(1);
  });

  it.each([
    ['from', () => local.count({ kind: 'actions', from: new Date(-8.64e15) })],
    ['to', () => local.count({ kind: 'actions', to: new Date(8.64e15) })],
    ['to', () => local.query({ kind: 'actions', to: '+010000-01-01T00:00:00Z' })],
    ['before', () => local.purge({ before: '+010000-01-01T00:00:00Z' })],
    ['before', () => local.archive({ before: '-000001-01-01T00:00:00Z', to: new MemoryStore() })],
  ])('refuses a %s outside them, naming it, before asking the store', async (field, read) => {
    expect(await refusal(read)).toBe(`${field}: must be between the years 0000 and 9999`);
    expect(await local.count({ kind: 'actions' })).toBe(1);
  });
});
