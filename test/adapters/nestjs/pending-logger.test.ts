import { describe, expect, it } from 'vitest';
import { ActionLogConfigError, createActionLogger, MemoryStore } from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { PendingLogger } from '../../../adapters/nestjs/pending-logger.js';

const change = (id: string): ModelChange => ({
  model: 'orders',
  model_class_name: 'Order',
  model_namespace: 'shop.orders',
  action: 'Created',
  model_id: id,
  old_object: null,
  new_object: { id },
});

describe('PendingLogger', () => {
  it('holds model changes made before the logger exists and hands them over, then forwards every call', async () => {
    const pending = new PendingLogger();
    expect(pending.invoke('current', [])).toBeUndefined();
    pending.invoke('recordModelChange', [change('1'), null]);
    expect(() => pending.invoke('record', [{ action: 'approve' }])).toThrow(ActionLogConfigError);

    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 10 });
    expect(pending.resolve(logger)).toBe(logger);
    pending.invoke('recordModelChange', [change('2'), null]);
    await logger.run({ module: 'job' }, () => {
      expect(pending.invoke('current', [])).toBe(logger.current());
    });
    await logger.close();
    expect(store.requests().flatMap((d) => d.details.model_logs.map((l) => l.model_id))).toEqual(['1', '2']);
  });

  it('reports what it could not hold', async () => {
    const pending = new PendingLogger();
    for (let i = 0; i < 1005; i++) pending.invoke('recordModelChange', [change(String(i)), null]);
    const errors: Error[] = [];
    const store = new MemoryStore();
    const logger = createActionLogger({ store, onError: (e) => errors.push(e) });
    pending.resolve(logger);
    await logger.close();
    expect(errors.map((e) => e.message)).toEqual(['5 model changes or errors came before the logger was built and were dropped']);
    expect(store.requests().length).toBe(1000);
  });
});
