import { afterEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore } from 'actionlog';
import { KeyRedactor } from '../../src/build/sanitize/redactor.js';
import { redactText } from '../../src/build/text.js';
import { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_KEYS } from '../../src/build/sanitize/redactor.js';

const redactor = new KeyRedactor(DEFAULT_REDACT_KEYS, DEFAULT_REDACT_HEADERS);

describe('redactText', () => {
  it.each([
    ['Opened https://app.example/reset?token=abc&next=/home', 'Opened https://app.example/reset?token=[REDACTED]&next=/home'],
    ['followed /invite/0123456789abcdefABCDEF', 'followed /invite/:redacted'],
    ['sent api_key=s3cr3t to the partner', 'sent api_key=[REDACTED] to the partner'],
    ['used Bearer abcdefghijklmnop1234', 'used Bearer [REDACTED]'],
    ['Logged in from Paris', 'Logged in from Paris'],
    ['visited /orders/42?page=2', 'visited /orders/42?page=2'],
  ])('%s', (input, expected) => {
    expect(redactText(input, redactor)).toBe(expected);
  });
});

describe('logger.activity() redaction', () => {
  let logger: ActionLogger;
  afterEach(() => logger.close());

  it('stores link_preview and the description redacted as request URLs are', async () => {
    const store = new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 0 });
    const user = { lookup_from: 'users', _id: 'u1', label: 'Ada' };
    const doc = logger.activity({ user, action: 'Shared /s/view?token=abc', link_preview: '/s/view?token=abc&tab=2' });
    expect(doc).toMatchObject({ action: 'Shared /s/view?token=[REDACTED]', link_preview: '/s/view?token=[REDACTED]&tab=2' });
    await logger.flush();
    expect(store.activities()[0]).toMatchObject({
      action: 'Shared /s/view?token=[REDACTED]',
      link_preview: '/s/view?token=[REDACTED]&tab=2',
    });
  });
});
