import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type Store, type StoredAttachment } from 'actionlog';
import { bytesOf } from '../support/attachment-contract.js';

const loggers: ActionLogger[] = [];
function make(store: Store = new MemoryStore(), options: Record<string, unknown> = {}): ActionLogger {
  const logger = createActionLogger({ store, flushIntervalMs: 0, onError: () => undefined, ...options });
  loggers.push(logger);
  return logger;
}
afterEach(async () => {
  for (const logger of loggers.splice(0)) await logger.close();
});

const file = (extra: Record<string, unknown> = {}) => ({
  name: 'a.txt',
  type: 'file',
  mime_type: 'text/plain',
  data: Buffer.from('a'),
  ...extra,
});
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('not refused'),
    (error: unknown) => error as { name: string; issues: Array<{ path: string; message: string }> },
  );

describe('record() with attachments', () => {
  it.each([
    [{ attachments: 'a.txt' }, 'attachments', 'must be a list of { name, type, mime_type, data }'],
    [{ attachments: [file({ name: undefined })] }, 'attachments.0.name', 'is required'],
    [{ attachments: [file({ name: '' })] }, 'attachments.0.name', 'must not be empty'],
    [{ attachments: [file({ type: 'an invoice' })] }, 'attachments.0.type', 'an attachment type must match [A-Za-z0-9_]+'],
    [
      { attachments: [file({ mime_type: 'pdf' })] },
      'attachments.0.mime_type',
      'must be a MIME type (type/subtype, with optional parameters)',
    ],
    [{ attachments: [file(), file({ data: 'text' })] }, 'attachments.1.data', 'must be a Buffer, a Uint8Array or a readable stream'],
    [{ attachments: [file({ data: undefined })] }, 'attachments.0.data', 'is required'],
    [{ attachments: [file({ mimeType: 'text/plain' })] }, 'attachments.0.mimeType', 'unknown field (did you mean "mime_type"?)'],
    [{ attachments: Array.from({ length: 101 }, () => file()) }, 'attachments', 'must hold at most 100 attachments'],
  ])('refuses %j naming %s', async (input, path, message) => {
    const logger = make();
    const error = await refusal(logger.record({ action: 'upload', ...(input as { attachments: [] }) }));
    expect(error).toMatchObject({ name: 'ActionLogValidationError', issues: [{ path, message }] });
    await logger.flush();
    expect(await logger.count({ kind: 'requests' })).toBe(0);
  });

  it('names the bad fields of the action and of its attachments at once, and destroys the streams it was given', async () => {
    const logger = make();
    const stream = Readable.from(['never read']);
    const error = await refusal(logger.record({ action: 'bad type', attachments: [file({ data: stream }), file({ type: '' })] }));
    expect(error.issues.map((i) => i.path)).toEqual(['action', 'attachments.1.type']);
    expect(stream.destroyed).toBe(true);
  });

  it('refuses a stream that fails while read, naming its data', async () => {
    const logger = make();
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    const error = await refusal(logger.record({ action: 'upload', attachments: [file({ data: failing })] }));
    expect(error.issues).toEqual([{ path: 'attachments.0.data', message: 'could not be read (the stream failed)' }]);
  });

  it('stores the bytes before the document that names them: a store that keeps refusing them gets neither', async () => {
    const store = new MemoryStore();
    let refusals = 0;
    const put = store.putAttachments.bind(store);
    store.putAttachments = async (attachments: StoredAttachment[]) => {
      if (refusals-- > 0) throw new Error('bucket down');
      await put(attachments);
    };
    const logger = make(store, { maxRetries: 1, retryDelayMs: 0 });
    refusals = 1;
    const once = await logger.record({ action: 'upload', note: 'retried', attachments: [file()] });
    await logger.flush();
    expect(store.actions().map((a) => a.note)).toEqual(['retried']);
    expect((await bytesOf(await logger.attachment(once.attachments![0]!.id))).toString()).toBe('a');
    refusals = 10;
    const never = await logger.record({ action: 'upload', note: 'dropped', attachments: [file()] });
    await logger.flush();
    expect(store.actions().map((a) => a.note)).toEqual(['retried']);
    expect(await logger.attachment(never.attachments![0]!.id)).toBeNull();
    expect(logger.stats().dropped).toBe(1);
  });

  it('keeps the ids given at capture through a retried write, each attachment stored once', async () => {
    const store = new MemoryStore();
    const seen: string[][] = [];
    const put = store.putAttachments.bind(store);
    store.putAttachments = async (attachments: StoredAttachment[]) => {
      seen.push(attachments.map((a) => a.id));
      await put(attachments);
      if (seen.length === 1) throw new Error('lost the answer');
    };
    const logger = make(store, { retryDelayMs: 0 });
    const entry = await logger.record({ action: 'upload', attachments: [file(), file({ name: 'b.txt' })] });
    await logger.flush();
    const ids = entry.attachments!.map((a) => a.id);
    expect(seen).toEqual([ids, ids]);
    expect(store.actions()[0]!.attachments!.map((a) => a.id)).toEqual(ids);
  });

  it('is refused by a store that keeps no attachments, and by recordMany(), naming why', async () => {
    const inner = new MemoryStore();
    const bare: Store = {
      write: (batch) => inner.write(batch),
      append: (appends) => inner.append(appends),
      query: (query) => inner.query(query),
      count: (kind, filter) => inner.count(kind, filter),
      facets: (query) => inner.facets(query),
      close: () => inner.close(),
    };
    const noBytes = make(bare);
    const stream = Readable.from(['x']);
    const error = await refusal(noBytes.record({ action: 'upload', attachments: [file({ data: stream })] }));
    expect(error).toMatchObject({ name: 'ActionLogConfigError', issues: [{ path: 'store' }] });
    expect(stream.destroyed).toBe(true);
    await expect(noBytes.attachment('x')).rejects.toMatchObject({ name: 'ActionLogConfigError', issues: [{ path: 'store' }] });
    const logger = make();
    expect(() => logger.recordMany([{ action: 'ok' }, { action: 'upload', attachments: [file()] } as never])).toThrow(
      expect.objectContaining({
        issues: [{ path: '1.attachments', message: 'is not taken by recordMany(): record() such an action alone' }],
      }),
    );
  });

  it('checks the id given to attachment(), and the limits at configuration, naming the key', async () => {
    const logger = make();
    await expect(logger.attachment('')).rejects.toMatchObject({ name: 'ActionLogValidationError', issues: [{ path: 'id' }] });
    await expect(logger.attachment(42 as unknown as string)).rejects.toMatchObject({ issues: [{ path: 'id' }] });
    expect(() => make(new MemoryStore(), { attachments: { maxBytes: 0 } })).toThrow(
      expect.objectContaining({ name: 'ActionLogConfigError', issues: [{ path: 'attachments.maxBytes', message: 'must be at least 1' }] }),
    );
    expect(() => make(new MemoryStore(), { attachments: { maxByte: 10 } })).toThrow(
      expect.objectContaining({ issues: [{ path: 'attachments.maxByte', message: 'unknown field (did you mean "maxBytes"?)' }] }),
    );
  });

  it('is refused after close(), its streams destroyed', async () => {
    const logger = make();
    await logger.close();
    const stream = Readable.from(['x']);
    await expect(logger.record({ action: 'upload', attachments: [file({ data: stream })] })).rejects.toMatchObject({
      name: 'ActionLogClosedError',
    });
    expect(stream.destroyed).toBe(true);
  });
});
