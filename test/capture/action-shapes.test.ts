import { afterEach, describe, expect, it } from 'vitest';
import {
  ActionLogConfigError,
  type ActionInput,
  ActionLogValidationError,
  type ActionLogger,
  asAuditizeLog,
  asServiceEntry,
  createActionLogger,
  MemoryStore,
} from 'actionlog';
import { unlistable, withThrowingGetter } from '../support/hostile-values.js';
import { all } from '../support/store-contract.js';
import { AUDIT_LOG_OBJECT, AUDITIZE_LOG, SERVICE_CALL } from '../support/source-examples.js';

let logger: ActionLogger;
let store: MemoryStore;

function setup(options: { actionTypes?: string[]; targetTypes?: string[] } = {}) {
  store = new MemoryStore();
  logger = createActionLogger({ store, flushIntervalMs: 0, ...options });
}

afterEach(() => logger.close());

function rejection(act: () => unknown): ActionLogValidationError {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(ActionLogValidationError);
    return error as ActionLogValidationError;
  }
  throw new Error('accepted');
}

const auditize = (patch: Record<string, unknown>) => ({ ...AUDITIZE_LOG, ...patch });
const service = (patch: Record<string, unknown>) => ({ ...SERVICE_CALL, ...patch });
const auditLog = (patch: Record<string, unknown>) => ({ ...AUDIT_LOG_OBJECT, ...patch });

describe('record() refuses bad input in each shape, naming the field', () => {
  const invalid: Array<[string, string, unknown]> = [
    // Auditize's log model: what it requires stays required.
    ['an Auditize action without category', 'action.category', auditize({ action: { type: 'job_offer_creation' } })],
    ['an Auditize actor without ref', 'actor.ref', auditize({ actor: { type: 'user', name: 'John' } })],
    ['an Auditize actor without type', 'actor.type', auditize({ actor: { ref: 'u1', name: 'John' } })],
    ['an Auditize actor without name', 'actor.name', auditize({ actor: { ref: 'u1', type: 'user' } })],
    [
      'an actor extra field with a dashed name',
      'actor.extra.0.name',
      auditize({ actor: { ...AUDITIZE_LOG.actor, extra: [{ name: 'e-mail', value: 'x' }] } }),
    ],
    ['a resource without name', 'resource.name', auditize({ resource: { ref: 'r1', type: 'job_offer' } })],
    ['a resource type with a dash', 'resource.type', auditize({ resource: { ...AUDITIZE_LOG.resource, type: 'job-offer' } })],
    ['a resource with both ref and id', 'resource.id', auditize({ resource: { ...AUDITIZE_LOG.resource, id: 3 } })],
    ['a source field without value', 'source.1.value', auditize({ source: [{ name: 'application', value: 'myATS' }, { name: 'ip' }] })],
    [
      'a duplicate source field',
      'source.1.name',
      auditize({
        source: [
          { name: 'ip', value: 'a' },
          { name: 'ip', value: 'b' },
        ],
      }),
    ],
    ['a detail that is a string in a list', 'details.0', auditize({ details: ['job title'] })],
    ['a rich tag without name', 'tags.0.name', auditize({ tags: [{ type: 'owner', ref: 'u1' }] })],
    ['an entity path item without name', 'entity_path.1.name', auditize({ entity_path: [{ ref: 'a', name: 'A' }, { ref: 'b' }] })],
    // The ActionLog service.
    ['a service action type with a space', 'action_type', service({ action_type: 'MCP CREATED' })],
    ['a service entity type with a dot', 'entity_type', service({ entity_type: 'mcp.definition' })],
    ['a service entity id that is an object', 'entity_id', service({ entity_id: { id: 1 } })],
    ['a service entity id without its type', 'entity_type', service({ entity_type: null })],
    ['service details that are a string', 'details', service({ details: 'name=New MCP' })],
    ['a service timestamp that is no date', 'timestamp', service({ timestamp: 'not a date' })],
    ['a service call with an auditLog field', 'note', service({ note: 'hello' })],
    // The auditLog object.
    ['an auditLog action type with a dash', 'actionType', auditLog({ actionType: 'LOAN-APPROVED' })],
    ['an auditLog actor that is an object', 'actorUserId', auditLog({ actorUserId: { id: 42 } })],
    ['an auditLog target id without its type', 'targetObjectType', auditLog({ targetObjectType: undefined })],
    ['an auditLog context that is a string', 'context', auditLog({ context: 'branch=north' })],
    ['an auditLog note that is a number', 'note', auditLog({ note: 12 })],
    ['an auditLog createdAt that is no date', 'createdAt', auditLog({ createdAt: 'soon' })],
    ['an auditLog createdAt past the year 9999', 'createdAt', auditLog({ createdAt: new Date(8.64e15) })],
    ['a service timestamp before the year 0000', 'timestamp', service({ timestamp: '-000001-12-31T00:00:00Z' })],
    ['an auditLog object with a service field', 'entity_id', auditLog({ entity_id: 3 })],
    // Between shapes.
    ['two shapes at once', 'action_type', { action: 'a', action_type: 'B' }],
    ['no shape at all', 'action', { note: 'what happened?' }],
  ];

  it('has at least 25 cases', () => {
    setup();
    expect(invalid.length).toBeGreaterThanOrEqual(25);
  });

  it.each(invalid)('refuses %s, naming %s', (_what, path, input) => {
    setup();
    const error = rejection(() => logger.record(input as ActionInput));
    expect(error.issues.map((i) => i.path)).toContain(path);
    expect(error.message).toContain(`${path}:`);
  });

  it('says which shape a stray field belongs to', () => {
    setup();
    expect(() => logger.record(service({ note: 'hello' }) as never)).toThrow(
      'note: unknown field in the ActionLog service shape ("note" belongs to the actionlog shape, which starts with action, ' +
        'and to the auditLog object shape, which starts with actionType)',
    );
  });

  it('names the misspelt field once, not also as missing', () => {
    setup();
    const error = rejection(() => logger.record({ action: { type: 'x', categroy: 'y' } } as never));
    expect(error.issues).toEqual([{ path: 'action.categroy', message: 'unknown field (did you mean "category"?)' }]);
  });

  it('points a list to recordMany()', () => {
    setup();
    expect(() => logger.record([{ action: 'a' }] as never)).toThrow('must be an object (a list goes to recordMany())');
  });
});

describe('identifiers and allowed types', () => {
  it('takes lower-case keys and upper-case enums alike', () => {
    setup();
    expect(logger.record({ action: 'job_offer_creation', target: { type: 'job_offer', id: 1 } }).action_type).toBe('job_offer_creation');
    expect(logger.record({ action_type: 'CREATE', entity_type: 'MCP_DEFINITION', entity_id: 1 }).target_type).toBe('MCP_DEFINITION');
  });

  it('checks actionTypes and targetTypes at configuration with the same rule', () => {
    expect(() => createActionLogger({ store: new MemoryStore(), actionTypes: ['CREATE', 'job-offer'] })).toThrow(ActionLogConfigError);
    expect(() => createActionLogger({ store: new MemoryStore(), actionTypes: ['CREATE', 'job-offer'] })).toThrow(
      'actionTypes.1: must match [A-Za-z0-9_]+',
    );
    expect(() => createActionLogger({ store: new MemoryStore(), targetTypes: [] })).toThrow('targetTypes: must not be empty');
  });

  it('records the configured upper-case types and refuses any other, naming the allowed set in every shape', () => {
    setup({ actionTypes: ['CREATE', 'UPDATE'], targetTypes: ['MCP_DEFINITION'] });
    expect(() => logger.record(SERVICE_CALL)).not.toThrow();
    const named = 'is not an allowed action type (allowed: CREATE, UPDATE)';
    expect(rejection(() => logger.record({ action_type: 'DELETE' })).issues).toEqual([{ path: 'action_type', message: named }]);
    expect(rejection(() => logger.record({ actionType: 'DELETE' })).issues).toEqual([{ path: 'actionType', message: named }]);
    expect(rejection(() => logger.record({ action: { type: 'DELETE', category: 'x' } })).issues).toEqual([
      { path: 'action.type', message: named },
    ]);
    expect(rejection(() => logger.record({ action: 'CREATE', resource: { ref: 'r', type: 'LOAN', name: 'L' } })).issues).toEqual([
      { path: 'resource.type', message: 'is not an allowed target type (allowed: MCP_DEFINITION)' },
    ]);
  });
});

describe('details: a list of custom fields or a free object', () => {
  it('keeps each as given, and both read back', async () => {
    setup();
    const free = { name: 'New MCP', nested: { tags: ['a', 'b'], 'odd key': true }, count: 3 };
    const fields = [
      { name: 'due_days', value: 14 },
      { name: 'tier', value: 'gold', type: 'enum' as const },
    ];
    await logger.run({}, () => {
      logger.record({ action_type: 'CREATE', details: free });
      logger.record({ action_type: 'UPDATE', details: fields });
      logger.record({ action: 'a', details: free });
    });
    await logger.flush();
    const stored = await all(store, 'actions');
    const created = stored.find((e) => e.action_type === 'CREATE')!;
    const updated = stored.find((e) => e.action_type === 'UPDATE')!;
    expect(created.details).toEqual(free);
    expect(updated.details).toEqual([
      { name: 'due_days', value: 14, type: 'integer' },
      { name: 'tier', value: 'gold', type: 'enum' },
    ]);
    expect(stored.find((e) => e.action_type === 'a')!.details).toEqual(free);
    expect(asServiceEntry(created).details).toEqual(free);
    expect(asAuditizeLog(updated).details).toEqual(fields);
  });

  it('redacts secrets in a free object as in any free-form value', () => {
    setup();
    const entry = logger.record({ action_type: 'LOGIN', details: { user: 'ada', password: 'hunter2' } });
    expect(entry.details).toEqual({ user: 'ada', password: '[REDACTED]' });
  });

  it('takes a free object with a symbol key, a getter that throws or a proxy that cannot list its keys, as it stores them', async () => {
    setup();
    const withGetter = withThrowingGetter({ ok: 1 }, 'bad');
    const entries = [
      logger.record({ action: 'a', context: { [Symbol('s')]: 1, ok: 1 } }),
      logger.record({ action: 'a', context: withGetter }),
      logger.record({ action: 'a', details: unlistable() }),
    ];
    expect(entries.map((e) => [e.context, e.details])).toEqual([
      [{ ok: 1 }, []],
      [{ ok: 1, bad: '[Unreadable]' }, []],
      [null, '[Unserializable]'],
    ]);
    await logger.run({ metadata: withGetter }, () => undefined);
    await logger.flush();
    expect(store.requests().at(-1)?.details.run?.metadata).toEqual({ ok: 1, bad: '[Unreadable]' });
    // Still only objects.
    expect(rejection(() => logger.record({ action: 'a', context: ['x'] as never })).issues).toEqual([
      { path: 'context', message: 'must be an object' },
    ]);
  });
});

describe('logger.recordMany()', () => {
  const good = (i: number): ActionInput =>
    i % 3 === 0
      ? { action: 'a', note: `n${i}` }
      : i % 3 === 1
        ? { action_type: 'B', entity_type: 'T', entity_id: i }
        : { actionType: 'C', note: `n${i}` };

  it('refuses all of 100 entries when 3 are bad, naming each by index and path, and stores nothing', async () => {
    setup();
    const entries: unknown[] = Array.from({ length: 100 }, (_, i) => good(i));
    entries[7] = { action: 'bad type!' };
    entries[42] = { action_type: 'B', entity_id: 5 };
    entries[99] = { actionType: 'C', note: 5 };
    const error = rejection(() => logger.recordMany(entries as ActionInput[]));
    expect(error.issues.map((i) => i.path)).toEqual(['7.action', '42.entity_type', '99.note']);
    expect(error.message).toMatch(/^Invalid actions: 7\.action: .*; 42\.entity_type: .*; 99\.note: /);
    await logger.flush();
    expect(store.requests()).toEqual([]);
    expect(store.actions()).toEqual([]);
  });

  it('records all of them in order, in the current scope', async () => {
    setup();
    const entries = Array.from({ length: 100 }, (_, i) => good(i));
    let returned: unknown[] = [];
    await logger.run({ module: 'bulk' }, () => {
      returned = logger.recordMany(entries);
    });
    await logger.flush();
    expect(returned).toHaveLength(100);
    const [doc] = store.requests();
    expect(store.requests()).toHaveLength(1);
    expect(doc!.details.actions.map((a) => a.action_type)).toEqual(entries.map((_, i) => ['a', 'B', 'C'][i % 3]));
    expect(store.actions().map((a) => a.action_type)).toEqual(entries.map((_, i) => ['a', 'B', 'C'][i % 3]));
  });

  it('outside any scope, stores them as one document', async () => {
    setup();
    logger.recordMany([{ action: 'x' }, { action: 'y' }]);
    await logger.flush();
    expect(store.requests().map((d) => d.details.actions.map((a) => a.action_type))).toEqual([['x', 'y']]);
  });

  it('refuses what is not a list', () => {
    setup();
    expect(() => logger.recordMany({ action: 'x' } as never)).toThrow('Invalid actions: must be a list of actions');
  });
});
