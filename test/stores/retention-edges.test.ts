import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type RequestAppend, SqlStore, type Store } from 'actionlog';
import { actionLogEntities } from 'actionlog/typeorm';
import { bytesOf } from '../support/attachment-contract.js';
import { openStore, type OpenedStore, STORE_KINDS } from '../support/every-store.js';
import { openDatabase, SQL_KINDS } from '../support/sql.js';
import { action } from '../support/store-contract.js';

const DAY = 24 * 3600 * 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe.each(STORE_KINDS)('retention, purge and attachments as a user meets them on %s', (kind) => {
  let opened: OpenedStore;
  let store: Store;
  let logger: ActionLogger;
  const errors: Error[] = [];

  function open(options: Parameters<typeof createActionLogger>[0]): ActionLogger {
    return createActionLogger({ flushIntervalMs: 0, onError: (e) => errors.push(e), ...options });
  }

  beforeEach(async () => {
    errors.length = 0;
    opened = await openStore(kind);
    store = opened.store;
  });
  afterEach(async () => {
    await logger.close();
    await opened.close();
  });

  it.each([3e6, 1e8])('retentionDays: %d (kept "for ever") keeps what is recorded, or is refused at start', async (days) => {
    let refused: unknown;
    try {
      logger = open({ store, retentionDays: days, retention: { models: { invoices: days } } });
    } catch (error) {
      refused = error;
    }
    if (refused) {
      expect(refused).toMatchObject({ name: 'ActionLogConfigError' });
      return;
    }
    await logger.ready();
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'approve' });
    });
    await logger.flush();
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(await logger.count({ kind: 'actions' })).toBe(1);
    expect(await logger.count({ kind: 'requests' })).toBe(1);
    expect(await logger.purge()).toMatchObject({ requests: 0, actions: 0 });
    expect(await logger.count({ kind: 'actions' })).toBe(1);
  });

  it('attachments: a Uint8Array view, every byte value, names with separators and unicode round trip', async () => {
    logger = open({ store, retentionDays: 30 });
    await logger.ready();
    const whole = Buffer.alloc(1024);
    for (let i = 0; i < whole.length; i++) whole[i] = i % 256;
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 100, 300);
    const names = ['../../etc/passwd', 'C:\\Users\\Ada\\facture é.pdf', '请求 📄.txt'];
    const entry = await logger.record({
      action: 'upload',
      attachments: [
        { name: names[0]!, type: 'file', mime_type: 'application/octet-stream', data: view },
        { name: names[1]!, type: 'file', mime_type: 'application/pdf', data: whole },
        { name: names[2]!, type: 'file', mime_type: 'text/plain; charset=utf-8', data: Buffer.from('héllo\u0000wörld', 'utf8') },
      ],
    });
    await logger.flush();
    const [stored] = (await logger.query({ kind: 'actions' })).items;
    expect(stored!.attachments!.map((a) => a.name)).toEqual(names);
    const back0 = await bytesOf(await logger.attachment(entry.attachments![0]!.id));
    expect(back0.equals(Buffer.from(view))).toBe(true);
    expect(sha256(back0)).toBe(entry.attachments![0]!.sha256);
    expect((await bytesOf(await logger.attachment(entry.attachments![1]!.id))).equals(whole)).toBe(true);
    expect((await bytesOf(await logger.attachment(entry.attachments![2]!.id))).toString('utf8')).toBe('héllo\u0000wörld');
    expect(errors).toEqual([]);
  });

  it('an attachment the store keeps refusing: no action names bytes that are not stored', async () => {
    const put = store.putAttachments!.bind(store);
    let calls = 0;
    store.putAttachments = async () => {
      calls++;
      throw new Error('disk full');
    };
    // Retried at once: what is asserted is what the store holds once the retries are spent, not their pace.
    logger = open({ store, retentionDays: 30, retryDelayMs: 1, maxRetryDelayMs: 1 });
    await logger.ready();
    const entry = await logger.run({ user: 'u1' }, () =>
      logger.record({ action: 'upload', attachments: [{ name: 'a', type: 'file', mime_type: 'text/plain', data: Buffer.from('x') }] }),
    );
    await logger.flush();
    expect(calls).toBeGreaterThan(0);
    store.putAttachments = put;
    const named = (await logger.query({ kind: 'actions' })).items.filter((a) => a.attachments?.length);
    for (const action of named) {
      for (const a of action.attachments!) expect(await logger.attachment(a.id), `${a.name} is named`).not.toBeNull();
    }
    const requests = (await logger.query({ kind: 'requests' })).items;
    for (const request of requests)
      for (const action of request.details.actions)
        for (const a of action.attachments ?? []) expect(await logger.attachment(a.id), `${a.name} is named by its request`).not.toBeNull();
    expect(entry.attachments).toHaveLength(1);
  });

  it('deactivated actions stay out of export and tail', async () => {
    logger = open({ store, retentionDays: 30 });
    await logger.ready();
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'approve', target: { type: 'loan', id: 1 } });
      logger.record({ action: 'approve', target: { type: 'loan', id: 2 } });
    });
    await logger.flush();
    const [first] = (await logger.query({ kind: 'actions' }, { order: 'asc' })).items;
    await logger.deactivate(first!._id, { reason: 'twice', actor: 'admin' });
    await logger.flush();
    let text = '';
    for await (const chunk of logger.export({ kind: 'actions', action_type: 'approve' }, { format: 'jsonl' })) text += String(chunk);
    const lines = text.trim().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(await logger.count({ kind: 'actions', action_type: 'approve' })).toBe(1);
  });
});

/**
 * Late events whose request document never arrives (refused by the store and quarantined, or dropped after its
 * retries) are kept in a placeholder row without a time of its own: it carries its request's expiry (the append's),
 * so that a purge deletes it.
 */
describe.each(SQL_KINDS)('purge and a request row of late events whose document never came, on %s', (kind) => {
  it('purge({ before }) deletes the late events of a request (actions with their personal data) like any entry', async () => {
    const database = await openDatabase(kind, { entities: actionLogEntities(kind) });
    const store = new SqlStore({ dataSource: database.dataSource });
    const logger = createActionLogger({ store, flushIntervalMs: 0, retentionDays: 1 });
    try {
      await logger.ready();
      const late = { ...action('export_customer_data', 0), actor: { ref: 'u1', type: 'user', name: 'Ada Lovelace' } };
      await store.append([
        {
          append_id: randomUUID(),
          uid: randomUUID(),
          request_uuid: 'r-refused',
          module: 'orders',
          model_logs: [],
          actions: [late],
          model_logs_spilled: 0,
          actions_spilled: 0,
          // As the logger gives it with retentionDays: 1.
          expires_at: new Date(Date.now() + DAY),
        },
      ]);
      await logger.purge({ before: new Date(Date.now() + 365 * DAY) });
      const rows = await database.dataSource.query<unknown[]>('SELECT "request_uuid", "timestamp", "expires_at" FROM "actionlog_requests"');
      expect(rows, 'a row holding Ada Lovelace’s action outlives every purge').toEqual([]);
    } finally {
      await logger.close();
      await database.drop();
    }
  });
});

describe('the expiry a late append carries', () => {
  it("is its request's for what it holds: the longest of retentionDays and its events' overrides", async () => {
    const appends: RequestAppend[] = [];
    const store = new MemoryStore();
    const append = store.append.bind(store);
    store.append = async (given) => {
      appends.push(...given);
      await append(given);
    };
    const logger = createActionLogger({ store, flushIntervalMs: 0, retentionDays: 30, retention: { actionTypes: { login: 3650 } } });
    try {
      let started = new Date();
      let late: Promise<void> | undefined;
      await logger.run({ requestUuid: 'late' }, () => {
        started = new Date();
        // Work that outlives the scope: its events are appended to the scope's document.
        late = sleep(30).then(() => void logger.record({ action: 'login' }));
      });
      await late;
      await logger.flush();
      expect(appends).toHaveLength(1);
      const kept = appends[0]!.expires_at!.getTime() - started.getTime();
      expect(Math.round(kept / DAY)).toBe(3650);
    } finally {
      await logger.close();
    }
  });
});
