import { afterEach, describe, expect, it } from 'vitest';
import { type ActionInput, ActionLogValidationError, type ActionLogger, createActionLogger, MemoryStore } from 'actionlog';
import { anyDate, anyString } from '../support/matchers.js';
import { all } from '../support/store-contract.js';

let logger: ActionLogger;
let store: MemoryStore;

function setup(options: { actionTypes?: string[]; targetTypes?: string[] } = {}) {
  store = new MemoryStore();
  logger = createActionLogger({ store, flushIntervalMs: 0, ...options });
}

afterEach(() => logger.close());

function rejection(input: unknown, log = logger): ActionLogValidationError {
  try {
    log.record(input as ActionInput);
  } catch (error) {
    expect(error).toBeInstanceOf(ActionLogValidationError);
    return error as ActionLogValidationError;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

describe('logger.record() validation', () => {
  const invalid: Array<[string, string, unknown]> = [
    ['a missing action', 'action', {}],
    ['an action type with a dash', 'action', { action: 'check-out' }],
    ['an action type with spaces', 'action.type', { action: { type: 'check out' } }],
    ['a bad action category', 'action.category', { action: { type: 'checkout', category: 'Sales-Team' } }],
    ['an empty actor', 'actor', { action: 'a', actor: '' }],
    ['an actor type with a space', 'actor.type', { action: 'a', actor: { ref: '1', type: 'a user', name: 'Ada' } }],
    ['an actor without name', 'actor.name', { action: 'a', actor: { ref: '1', type: 'user' } }],
    ['a target without id', 'target.id', { action: 'a', target: { type: 'loan' } }],
    ['a target type with dashes', 'target.type', { action: 'a', target: { type: 'loan-item', id: 1 } }],
    ['a resource alias with a bad type', 'resource.type', { action: 'a', resource: { type: 'X.Y', id: 1 } }],
    ['both target and resource', 'resource', { action: 'a', target: { type: 'x', id: 1 }, resource: { type: 'x', id: 1 } }],
    ['a context that is not an object', 'context', { action: 'a', context: 'branch=north' }],
    ['a note that is not a string', 'note', { action: 'a', note: 42 }],
    ['a custom field with a bad name', 'details.0.name', { action: 'a', details: [{ name: 'Due Days', value: 14 }] }],
    ['a custom field value of an object', 'details.0.value', { action: 'a', details: [{ name: 'x', value: { a: 1 } }] }],
    ['a value not fitting its integer type', 'details.0.value', { action: 'a', details: [{ name: 'n', value: 1.5, type: 'integer' }] }],
    ['a value not fitting its json type', 'details.0.value', { action: 'a', details: [{ name: 'j', value: '{nope', type: 'json' }] }],
    [
      'a value not fitting its datetime type',
      'details.0.value',
      { action: 'a', details: [{ name: 'd', value: 'not a date', type: 'datetime' }] },
    ],
    ['an unknown custom field type', 'details.0.type', { action: 'a', details: [{ name: 'x', value: 'y', type: 'money' }] }],
    [
      'a duplicate custom field',
      'details.1.name',
      {
        action: 'a',
        details: [
          { name: 'x', value: 1 },
          { name: 'x', value: 2 },
        ],
      },
    ],
    ['a tag type with a dash', 'tags.0.type', { action: 'a', tags: [{ type: 'v-i-p' }] }],
    ['a tag with ref but no name', 'tags.0.name', { action: 'a', tags: [{ type: 'vip', ref: 'c1' }] }],
    ['an empty entity path', 'entity_path', { action: 'a', entity_path: [] }],
    ['an entity path item without ref', 'entity_path.0.ref', { action: 'a', entity_path: [{ name: 'Branch' }] }],
    ['an invalid emitted_at', 'emitted_at', { action: 'a', emitted_at: 'yesterday-ish' }],
    ['a non-boolean is_active', 'is_active', { action: 'a', is_active: 'yes' }],
    ['an unknown field', 'colour', { action: 'a', colour: 'red' }],
    ['a source of the wrong type', 'source', { action: 'a', source: 5 }],
  ];

  it.each(invalid)('rejects %s, naming %s', (_what, path, input) => {
    setup();
    const error = rejection(input);
    expect(error.issues.map((i) => i.path)).toContain(path);
    expect(error.message).toContain(path);
  });

  it('lists every bad field of one input', () => {
    setup();
    const error = rejection({ action: 'B-ad', target: { type: 'x' }, details: [{ name: 'N N', value: 1 }] });
    expect(error.issues.map((i) => i.path).sort()).toEqual(['action', 'details.0.name', 'target.id']);
  });

  it('rejects action and target types outside the allowed lists', () => {
    setup({ actionTypes: ['checkout'], targetTypes: ['loan'] });
    expect(rejection({ action: 'refund' }).issues.map((i) => i.path)).toEqual(['action']);
    expect(rejection({ action: 'checkout', target: { type: 'car', id: 1 } }).issues.map((i) => i.path)).toEqual(['target.type']);
    expect(() => logger.record({ action: 'checkout', target: { type: 'loan', id: 1 } })).not.toThrow();
  });

  it('keeps what was recorded before a rejected input', async () => {
    setup();
    await logger.run({ module: 'jobs' }, async () => {
      logger.record({ action: 'first' });
      expect(() => logger.record({ action: 'Second!' })).toThrow(ActionLogValidationError);
      logger.record({ action: 'third' });
    });
    await logger.flush();
    expect(store.requests()[0]!.details.actions.map((a) => a.action_type)).toEqual(['first', 'third']);
  });
});

describe('logger.record() normalization', () => {
  it('stores the full documented form flat, with the rich objects beside', async () => {
    setup();
    const emitted = new Date('2026-01-02T03:04:05Z');
    await logger.run({ module: 'loans' }, async () => {
      logger.record({
        action: { type: 'job_offer_creation', category: 'job_offers' },
        actor: { ref: 'user-42', type: 'user', name: 'Ada', extra: { team: 'north', token: 'hide-me' } },
        target: { type: 'loan', id: 981, name: 'Loan #981' },
        context: { branch: 'north', password: 'hide-me-too' },
        note: 'manual override approved by supervisor',
        details: [
          { name: 'due_days', value: 14 },
          { name: 'rate', value: 1.25 },
          { name: 'rush', value: true },
          { name: 'reason', value: 'vip' },
          { name: 'tier', value: 'gold', type: 'enum' },
          { name: 'payload', value: '{"a":1}', type: 'json' },
          { name: 'due', value: '2026-02-01T00:00:00Z', type: 'datetime' },
          { name: 'amount', value: 10, type: 'float' },
        ],
        source: { type: 'backoffice', ref: 'bo-1', name: 'Back office' },
        tags: [{ type: 'vip' }, { type: 'customer', ref: 'c-9', name: 'Acme' }],
        entity_path: [
          { ref: 'b-1', name: 'Branch North' },
          { ref: 'd-7', name: 'Desk 7' },
        ],
        emitted_at: emitted,
      });
    });
    await logger.flush();
    const [doc] = store.requests();
    const [action] = doc!.details.actions;
    expect(action).toEqual({
      action_type: 'job_offer_creation',
      action_category: 'job_offers',
      actor_id: 'user-42',
      actor: { ref: 'user-42', type: 'user', name: 'Ada', extra: { team: 'north', token: '[REDACTED]' } },
      target_type: 'loan',
      target_id: '981',
      // The flat column holds the id's text; the rich object keeps it as given.
      target: { type: 'loan', id: 981, name: 'Loan #981' },
      context: { branch: 'north', password: '[REDACTED]' },
      note: 'manual override approved by supervisor',
      source: { type: 'backoffice', ref: 'bo-1', name: 'Back office' },
      details: [
        { name: 'due_days', value: 14, type: 'integer' },
        { name: 'rate', value: 1.25, type: 'float' },
        { name: 'rush', value: true, type: 'boolean' },
        { name: 'reason', value: 'vip', type: 'string' },
        { name: 'tier', value: 'gold', type: 'enum' },
        { name: 'payload', value: '{"a":1}', type: 'json' },
        { name: 'due', value: '2026-02-01T00:00:00Z', type: 'datetime' },
        { name: 'amount', value: 10, type: 'float' },
      ],
      tags: [{ type: 'vip' }, { type: 'customer', ref: 'c-9', name: 'Acme' }],
      entity_path: [
        { ref: 'b-1', name: 'Branch North' },
        { ref: 'd-7', name: 'Desk 7' },
      ],
      emitted_at: emitted,
      saved_at: anyDate,
      is_active: true,
    });
    expect(store.actions()).toEqual([{ ...action, _id: anyString, uid: anyString, request_uuid: doc!.request_uuid, module: 'loans' }]);
  });

  it('accepts the short forms: string action, string actor, resource alias, string source, ISO emitted_at', async () => {
    setup();
    const entry = logger.record({
      action: 'checkout',
      actor: 'user-7',
      resource: { type: 'cart', id: 'c1' },
      source: 'api',
      emitted_at: '2026-03-04T05:06:07.000Z',
      is_active: false,
    });
    expect(entry).toMatchObject({
      action_type: 'checkout',
      action_category: null,
      actor_id: 'user-7',
      actor: { ref: 'user-7', type: 'user', name: 'user-7' },
      target_type: 'cart',
      target_id: 'c1',
      source: { type: 'api' },
      emitted_at: new Date('2026-03-04T05:06:07.000Z'),
      is_active: false,
      details: [],
      tags: [],
      entity_path: null,
      context: null,
      note: null,
    });
    await logger.flush();
    // Outside any scope the action is its own document; soft-deleted actions are hidden unless asked for.
    expect(store.requests()).toHaveLength(1);
    expect(store.requests()[0]!.details.request).toBeNull();
    expect(await all(store, 'actions')).toHaveLength(0);
    expect(await all(store, 'actions', { include_inactive: true })).toHaveLength(1);
  });

  it('copies free-form context when recorded, not when written', async () => {
    setup();
    const shared = { step: 1 };
    await logger.run({}, async () => {
      logger.record({ action: 'a', context: shared });
      shared.step = 2;
      logger.record({ action: 'a', context: shared });
    });
    await logger.flush();
    expect(store.requests()[0]!.details.actions.map((a) => a.context)).toEqual([{ step: 1 }, { step: 2 }]);
  });
});

describe('logger.activity()', () => {
  it('writes a feed entry with the scope user, ip and request id by default', async () => {
    setup();
    let requestUuid = '';
    await logger.run({ user: { _id: 'u1', name: 'Ada', email: 'ada@example.test' } }, async () => {
      requestUuid = logger.current()!.requestUuid;
      logger.activity({ action: 'Logged in', link_preview: '/dashboard' });
    });
    await logger.flush();
    expect(store.activities()).toEqual([
      {
        _id: anyString,
        uid: anyString,
        user: { lookup_from: 'users', _id: 'u1', label: 'Ada', email: 'ada@example.test' },
        ip_address: null,
        action: 'Logged in',
        activity_date: anyDate,
        link_preview: '/dashboard',
        request_uuid: requestUuid,
      },
    ]);
  });

  it.each([
    ['no action', 'action', {}],
    ['an empty action', 'action', { action: '' }],
    ['no user in or out of the scope', 'user', { action: 'x' }],
    ['a user without _id', 'user._id', { action: 'x', user: { lookup_from: 'users', label: 'A' } }],
    ['a bad email', 'user.email', { action: 'x', user: { lookup_from: 'users', _id: '1', label: 'A', email: 'nope' } }],
    ['a non-date activity_date', 'activity_date', { action: 'x', activity_date: 'today' }],
  ])('rejects %s, naming %s', (_what, path, input) => {
    setup();
    let caught: unknown;
    try {
      logger.activity(input as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ActionLogValidationError);
    expect((caught as ActionLogValidationError).issues.map((i) => i.path)).toContain(path);
  });
});
