// The capture API at its edges (record, recordMany, run): hostile inputs, limits of an action, redaction of its
// free text and custom fields.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ActionInput,
  ActionLogValidationError,
  type ActionLogger,
  type ActionLoggerOptions,
  createActionLogger,
  MemoryStore,
} from 'actionlog';

let logger: ActionLogger;
let store: MemoryStore;
let errors: Error[];

function setup(options: Partial<ActionLoggerOptions> = {}) {
  store = new MemoryStore();
  errors = [];
  logger = createActionLogger({ store, flushIntervalMs: 0, onError: (e) => errors.push(e), ...options });
}

afterEach(() => logger.close());

function rejection(act: () => unknown): ActionLogValidationError {
  let caught: unknown;
  try {
    act();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ActionLogValidationError);
  return caught as ActionLogValidationError;
}

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

describe('record() input that cannot be read', () => {
  it('refuses an input whose getter throws with ActionLogValidationError naming the field, keeping what was recorded', async () => {
    setup();
    await logger.run({}, () => {
      logger.record({ action: 'first' });
      const input = Object.defineProperty({ action: 'second' }, 'note', {
        enumerable: true,
        get() {
          throw new Error('lazy field not loaded');
        },
      });
      const error = rejection(() => logger.record(input as ActionInput));
      expect(error.issues.map((i) => i.path)).toContain('note');
      // A proxy that throws on every read is refused the same way, not with its own error.
      const proxy = new Proxy(
        { action: 'third' },
        {
          get() {
            throw new Error('revoked');
          },
        },
      );
      rejection(() => logger.record(proxy));
      rejection(() => logger.recordMany([{ action: 'ok' }, proxy]));
    });
    await logger.flush();
    expect(store.requests()[0]!.details.actions.map((a) => a.action_type)).toEqual(['first']);
  });
});

describe('recordMany()', () => {
  it('refuses a list with holes, naming each, rather than recording nothing into an empty document', async () => {
    setup();
    const error = rejection(() => logger.recordMany(new Array(2) as ActionInput[]));
    expect(error.issues.map((i) => i.path)).toEqual(['0', '1']);
    // eslint-disable-next-line no-sparse-arrays
    expect(rejection(() => logger.recordMany([, { action: 'a' }] as ActionInput[])).issues.map((i) => i.path)).toEqual(['0']);
    await logger.flush();
    expect(store.requests()).toEqual([]);
  });
});

describe('limits of an action', () => {
  it('refuses a list field past 1000 items (tags, details, entity_path), naming it', () => {
    setup();
    const many = <T>(make: (i: number) => T) => Array.from({ length: 1001 }, (_, i) => make(i));
    expect(rejection(() => logger.record({ action: 'a', tags: many(() => ({ type: 'vip' })) })).issues.map((i) => i.path)).toContain(
      'tags',
    );
    expect(
      rejection(() => logger.record({ action: 'a', details: many((i) => ({ name: `f${i}`, value: i })) })).issues.map((i) => i.path),
    ).toContain('details');
    expect(
      rejection(() => logger.record({ action: 'a', entity_path: many((i) => ({ ref: `r${i}`, name: 'n' })) })).issues.map((i) => i.path),
    ).toContain('entity_path');
  });

  it('never stores an action entry larger than maxDocumentBytes (MongoDB refuses one over 16 MiB)', async () => {
    setup();
    // Each value within the limits (1000 items of 8000 characters), 24 MB together.
    const column = Array.from({ length: 1000 }, () => 'y'.repeat(8000));
    let refused = false;
    try {
      logger.record({ action: 'export', context: { a: column, b: column, c: column } });
    } catch (error) {
      expect(error).toBeInstanceOf(ActionLogValidationError);
      expect((error as ActionLogValidationError).issues.map((i) => i.path)).toContain('context');
      refused = true;
    }
    await logger.flush();
    if (!refused) {
      for (const entry of store.actions()) expect(JSON.stringify(entry).length).toBeLessThanOrEqual(8 * 1024 * 1024);
    }
  });
});

describe('redaction of actions', () => {
  it('redacts a custom field named as a secret, as a free object with that key is', async () => {
    setup();
    const entry = logger.record({
      action: 'login',
      actor: { ref: 'u1', type: 'user', name: 'Ada', extra: [{ name: 'api_key', value: 'ak_live_123' }] },
      details: [
        { name: 'password', value: 'hunter2' },
        { name: 'attempts', value: 3 },
      ],
    });
    const free = logger.record({ action: 'login', details: { password: 'hunter2' } });
    expect(free.details).toEqual({ password: '[REDACTED]' });
    expect(JSON.stringify(entry)).not.toContain('hunter2');
    expect(JSON.stringify(entry)).not.toContain('ak_live_123');
    expect(entry.details).toContainEqual({ name: 'attempts', value: 3, type: 'integer' });
  });

  it("masks credentials in a note by their shape, as an activity's text is", () => {
    setup();
    const text = `retry with Bearer ${JWT} against postgres://admin:hunter2@db/app`;
    const activity = logger.activity({ action: text, user: { lookup_from: 'users', _id: 1, label: 'Ada' } });
    expect(activity.action).not.toContain('hunter2');
    const entry = logger.record({ action: 'retry', note: text });
    expect(entry.note).not.toContain('hunter2');
    expect(entry.note).not.toContain(JWT);
  });

  it("masks credentials in a run's error message (a driver's message carries its connection string)", async () => {
    setup();
    await expect(
      logger.run({ requestUuid: 'job-1' }, () => {
        throw new Error('connect ECONNREFUSED postgres://admin:hunter2@db:5432/app');
      }),
    ).rejects.toThrow('hunter2');
    await logger.flush();
    expect(store.requests()[0]!.details.run!.error!.message).not.toContain('hunter2');
  });
});

describe('run()', () => {
  it('refuses a missing function with ActionLogValidationError naming it, storing no document', async () => {
    setup();
    let caught: unknown;
    try {
      await (logger.run as (meta: object) => Promise<unknown>)({ requestUuid: 'no-fn' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ActionLogValidationError);
    expect((caught as ActionLogValidationError).issues.map((i) => i.path)).toContain('fn');
    await logger.flush();
    expect(store.requests()).toEqual([]);
  });

  it('stores a correlation id as every store keeps it (PostgreSQL refuses U+0000)', async () => {
    setup();
    try {
      await logger.run({ requestUuid: 'job-2', correlationId: 'msg\u0000-42' }, () => logger.record({ action: 'consume' }));
    } catch (error) {
      // Refusing it by name would do as well.
      expect(error).toBeInstanceOf(ActionLogValidationError);
      expect((error as ActionLogValidationError).issues.map((i) => i.path)).toContain('correlationId');
      return;
    }
    await logger.flush();
    const [doc] = store.requests();
    expect(doc!.correlation_id).not.toContain('\u0000');
    expect(store.actions()[0]!.correlation_id).not.toContain('\u0000');
  });
});
