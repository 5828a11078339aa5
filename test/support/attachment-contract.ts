import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, type Store, type StoredAttachment } from 'actionlog';
import { failOnWarning } from './matchers.js';
import type { StoreFactory } from './store-contract.js';

const DAY = 24 * 3600 * 1000;
const stringContaining = (text: string): unknown => expect.stringContaining(text);
const anyString: unknown = expect.any(String);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every byte of a stream. */
export async function bytesOf(stream: Readable | null): Promise<Buffer> {
  if (!stream) throw new Error('no attachment');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** An attachment as the writer hands it to a store. */
function stored(data: Buffer, timestamp: Date, expires_at?: Date): StoredAttachment {
  const meta = {
    id: randomUUID(),
    name: 'a.bin',
    type: 'file',
    mime_type: 'application/octet-stream',
    size: data.length,
    sha256: sha256(data),
  };
  return { ...meta, data, timestamp, ...(expires_at ? { expires_at } : {}) };
}

/** A stream of `data` in chunks of `size` bytes, that says whether it was destroyed. */
function chunked(data: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return Readable.from(chunks);
}

/** Attachments on one store: bytes out of the documents, read back as a stream, limits, purge. */
export function describeAttachments(name: string, factory: StoreFactory): void {
  describe(`${name} (attachments)`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      await store.init?.({ actionLogs: true, modelLogs: true, retention: true, warn: failOnWarning });
    });
    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    it('stores bytes once under their id however often a write is retried, reads them back whole, and null for an unknown id', async () => {
      // Over a GridFS chunk (255 KiB) and not a multiple of it, to read across chunk boundaries.
      const big = stored(randomBytes(600_000), new Date());
      const empty = stored(Buffer.alloc(0), new Date());
      await store.putAttachments!([big, empty]);
      await store.putAttachments!([big, empty]);
      expect((await bytesOf(await store.readAttachment!(big.id))).equals(big.data)).toBe(true);
      expect((await bytesOf(await store.readAttachment!(empty.id))).length).toBe(0);
      expect(await store.readAttachment!(randomUUID())).toBeNull();
      expect(await store.readAttachment!('not-a-uuid')).toBeNull();
      expect(await store.purgeAttachments!({ expiredAt: new Date(), before: new Date(Date.now() + DAY), limit: 10 })).toBe(2);
    });

    it('purges attachments expired or older than before, in batches; an expired one is not read', async () => {
      const now = Date.now();
      const expired = [1, 2, 3].map(() => stored(Buffer.from('gone'), new Date(now - 2 * DAY), new Date(now - 1000)));
      const old = stored(Buffer.from('old'), new Date(now - 10 * DAY));
      const kept = stored(Buffer.from('kept'), new Date(now), new Date(now + DAY));
      await store.putAttachments!([...expired, old, kept]);
      expect(await store.readAttachment!(expired[0]!.id)).toBeNull();
      const expiredAt = new Date();
      const sizes: number[] = [];
      for (let n = -1; n !== 0;) sizes.push((n = await store.purgeAttachments!({ expiredAt, limit: 2 })));
      expect(sizes).toEqual([2, 1, 0]);
      expect((await bytesOf(await store.readAttachment!(old.id))).toString()).toBe('old');
      expect(await store.purgeAttachments!({ expiredAt, before: new Date(now - DAY), limit: 10 })).toBe(1);
      expect(await store.readAttachment!(old.id)).toBeNull();
      expect((await bytesOf(await store.readAttachment!(kept.id))).toString()).toBe('kept');
    });
  });

  describe(`${name} (attachments through the logger)`, () => {
    let store: Store;
    let logger: ActionLogger;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      logger = createActionLogger({
        store,
        flushIntervalMs: 0,
        retentionDays: 30,
        attachments: { maxBytes: 300_000, maxBytesPerRequest: 700_000 },
        onError: (e) => expect.fail(e.message),
      });
      await logger.ready();
    });
    afterEach(async () => {
      await logger.close();
      await cleanup?.();
    });

    it('records Buffer and stream attachments: metadata in the entries, the same bytes read back by id', async () => {
      const pdf = randomBytes(280_000);
      const csv = Buffer.from('id,total\n1,10\n2,20\n');
      const entry = await logger.run({ user: 'u1' }, () =>
        logger.record({
          action: { type: 'invoice_sent', category: 'billing' },
          actor: { ref: 'u1', type: 'user', name: 'Ada' },
          attachments: [
            { name: 'invoice.pdf', type: 'invoice', mime_type: 'application/pdf', data: chunked(pdf, 64 * 1024) },
            { name: 'lines.csv', type: 'export', mime_type: 'text/csv; charset=utf-8', data: csv },
          ],
        }),
      );
      await logger.flush();
      const metas = [
        {
          id: anyString,
          name: 'invoice.pdf',
          type: 'invoice',
          mime_type: 'application/pdf',
          size: pdf.length,
          sha256: sha256(pdf),
        },
        {
          id: anyString,
          name: 'lines.csv',
          type: 'export',
          mime_type: 'text/csv; charset=utf-8',
          size: csv.length,
          sha256: sha256(csv),
        },
      ];
      expect(entry.attachments).toEqual(metas);
      const [action] = (await logger.query({ kind: 'actions' })).items;
      expect(action!.attachments).toEqual(entry.attachments);
      const [request] = (await logger.query({ kind: 'requests' })).items;
      expect(request!.details.actions[0]!.attachments).toEqual(entry.attachments);
      expect((await bytesOf(await logger.attachment(entry.attachments![0]!.id))).equals(pdf)).toBe(true);
      expect((await bytesOf(await logger.attachment(entry.attachments![1]!.id))).equals(csv)).toBe(true);
      expect(await logger.attachment(randomUUID())).toBeNull();
    });

    it('refuses an attachment over maxBytes, and the attachments of one request past maxBytesPerRequest, naming the data', async () => {
      const tooBig = chunked(randomBytes(300_001), 50_000);
      const refused = await logger
        .record({ action: 'upload', attachments: [{ name: 'x', type: 'file', mime_type: 'image/png', data: tooBig }] })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({
        name: 'ActionLogValidationError',
        issues: [{ path: 'attachments.0.data', message: stringContaining('maxBytes') }],
      });
      expect(tooBig.destroyed).toBe(true);
      await logger.run({ user: 'u1' }, async () => {
        const part = () => ({ name: 'p', type: 'file', mime_type: 'application/octet-stream', data: randomBytes(250_000) });
        await logger.record({ action: 'upload', attachments: [part(), part()] });
        const over = await logger.record({ action: 'upload', note: 'third', attachments: [part()] }).catch((e: unknown) => e);
        expect(over).toMatchObject({ issues: [{ path: 'attachments.0.data', message: stringContaining('maxBytesPerRequest') }] });
        // Another request has a budget of its own.
        await logger.run({}, () => logger.record({ action: 'upload', note: 'own run', attachments: [part()] }));
      });
      await logger.flush();
      // In either order: both are recorded within the same millisecond often enough.
      const actions = (await logger.query({ kind: 'actions' }, { order: 'asc' })).items;
      expect(actions.map((a) => [a.note, a.attachments?.length]).sort(([a], [b]) => String(a).localeCompare(String(b)))).toEqual([
        [null, 2],
        ['own run', 1],
      ]);
    });

    it('purges the attachments with the entries that name them; purged, they read as null', async () => {
      const entry = await logger.record({
        action: 'upload',
        attachments: [{ name: 'a', type: 'file', mime_type: 'text/plain', data: Buffer.from('a') }],
      });
      await logger.flush();
      const id = entry.attachments![0]!.id;
      expect(await logger.purge({ before: new Date(Date.now() - DAY) })).toMatchObject({ actions: 0, attachments: 0 });
      expect((await bytesOf(await logger.attachment(id))).toString()).toBe('a');
      expect(await logger.purge({ before: new Date(Date.now() + DAY) })).toEqual({
        requests: 1,
        actions: 1,
        changes: 0,
        activities: 0,
        attachments: 1,
      });
      expect(await logger.attachment(id)).toBeNull();
    });
  });
}
