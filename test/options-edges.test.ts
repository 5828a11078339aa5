// The logger's options at their edges: a misconfiguration is refused by name, never silent.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ActionLogConfigError, type ActionLoggerOptions, createActionLogger, DEFAULT_REDACT_KEYS, MemoryStore } from 'actionlog';

function configError(options: Partial<ActionLoggerOptions>): ActionLogConfigError {
  let caught: unknown;
  try {
    void createActionLogger({ store: new MemoryStore(), ...options }).close();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ActionLogConfigError);
  return caught as ActionLogConfigError;
}

describe('createActionLogger timer options', () => {
  // Past 2^31 - 1 ms, Node fires a timer at once (TimeoutOverflowWarning): a flush every millisecond, not once a month.
  it.each([
    ['flushIntervalMs', { flushIntervalMs: 2 ** 31 }],
    ['retryDelayMs', { retryDelayMs: 2 ** 31 }],
    ['maxRetryDelayMs', { maxRetryDelayMs: 2 ** 31 }],
    ['spool.fsyncIntervalMs', { spool: { dir: '/tmp/actionlog-never-created', fsyncIntervalMs: 2 ** 31 } }],
  ])('refuses %s longer than a timer can wait, naming it', (path, options) => {
    const error = configError(options);
    expect(error.issues.map((i) => i.path)).toContain(path);
  });
});

describe('redactKeys', () => {
  it('redacts a key written in another script, or refuses the rule that can never match it', () => {
    let logger;
    try {
      logger = createActionLogger({ store: new MemoryStore(), redactKeys: [...DEFAULT_REDACT_KEYS, 'пароль', 'パスワード'] });
    } catch (error) {
      expect(error).toBeInstanceOf(ActionLogConfigError);
      expect((error as ActionLogConfigError).issues.map((i) => i.path)).toContain(`redactKeys.${DEFAULT_REDACT_KEYS.length}`);
      return;
    }
    const entry = logger.record({ action: 'signup', context: { пароль: 'hunter2', パスワード: 'hunter3' } });
    void logger.close();
    expect(entry.context).toEqual({ пароль: '[REDACTED]', パスワード: '[REDACTED]' });
  });
});

describe('README, Options', () => {
  it('gives the defaults the logger has: the model_logs mirror is on', async () => {
    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 0 });
    logger.recordModelChange({
      action: 'Created',
      model: 'orders',
      model_class_name: 'Order',
      model_namespace: 'db.orders',
      model_id: '1',
      old_object: null,
      new_object: { total: 1 },
    });
    await logger.close();
    const on = store.modelLogs().length > 0;
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const row = readme.split('\n').find((line) => line.startsWith('| `actionLogs` / `modelLogs` |'));
    expect(row).toContain(`| \`true\` / \`${on}\` |`);
    expect(readme).not.toMatch(/`model_logs` each\s+model log \(off by default\)/);
  });
});
