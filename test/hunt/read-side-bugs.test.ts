/**
 * Read-side disagreements between the stores, each shown by a failing case (see the hunt report). Every case states
 * what the store contract promises; the stores it names as failing are the ones that break it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionLogDocument, createActionLogger, type ModelLogDocument, type Store, type StoreFilter } from 'actionlog';
import { type OpenedStore, openStore, STORE_KINDS, type StoreKind } from '../support/every-store.js';
import { failOnWarning } from '../support/matchers.js';
import { action, all, modelLog } from '../support/store-contract.js';

const INIT = { actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning };

/** A store of each kind, fresh for the file's cases of that kind. */
function useStore(kind: StoreKind): () => Store {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await openStore(kind);
    await opened.store.init?.(INIT);
  });
  afterAll(async () => {
    await opened.store.close();
    await opened.close();
  });
  return () => opened.store;
}

const actionDoc = (type: string, minutes: number, extra: Partial<ActionLogDocument> = {}): ActionLogDocument => ({
  ...action(type, minutes),
  uid: randomUUID(),
  request_uuid: `r-${type}`,
  module: 'm',
  ...extra,
});

const writeActions = (store: Store, actionLogs: ActionLogDocument[]) => store.write({ requests: [], actionLogs, modelLogs: [], activities: [] });

// 1. MongoStore pages by (time, _id) with the `_id` of a position turned into a string (`IdCodec`): entries whose
//    `_id` is a number (those archived from a SqlStore, which keep their row id) are never "past" a string, so every
//    entry after the first page at the same time is lost.
describe.each(['sqlite', 'postgres'] as const)('archive from %s into MongoDB, then read', (source) => {
  let from: OpenedStore;
  let to: OpenedStore;
  beforeAll(async () => {
    from = await openStore(source);
    to = await openStore('mongodb');
    const src = createActionLogger({ store: from.store, flushIntervalMs: 0 });
    const t = new Date('2026-01-01T00:00:00Z');
    await src.run({ user: { id: 7, name: 'Ada' } }, async () => {
      for (let i = 0; i < 12; i++) src.record({ action: `a${i}`, emitted_at: t });
    });
    await src.flush();
    expect((await src.archive({ before: new Date('2027-01-01T00:00:00Z'), to: to.store })).actions).toBe(12);
    await src.close();
  });
  afterAll(async () => {
    await from.close();
    await to.close();
  });

  it.each(['asc', 'desc'] as const)('pages archived entries of one time in %s order: every one once', async (order) => {
    const dst = createActionLogger({ store: to.store, flushIntervalMs: 0 });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await dst.query({ kind: 'actions' }, { limit: 5, cursor, order });
      seen.push(...page.items.map((a) => a.action_type));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    await dst.close();
    expect(seen.length).toBe(12);
    expect(new Set(seen).size).toBe(12);
  });

  it('deactivates an archived action by the _id a read gave', async () => {
    const dst = createActionLogger({ store: to.store, flushIntervalMs: 0 });
    const [first] = (await dst.query({ kind: 'actions', action_type: 'a3' })).items;
    expect(first).toBeDefined();
    const outcome = await dst.deactivate(first!._id as never, { reason: 'entered twice', actor: 'admin' }).then(
      () => 'deactivated',
      (error: Error) => error.message,
    );
    await dst.flush();
    await dst.close();
    expect(outcome).toBe('deactivated');
  });
});

describe.each(STORE_KINDS)('read side on %s', (kind) => {
  const store = useStore(kind);

  // 2. Facets of actor_id on changes: user ids keep their type (README), facet values are their text. MongoDB
  //    groups by the stored value (7 and '7' apart), sorts numbers numerically, and pages with `_id: { $gt: '<text>' }`,
  //    which never matches a number.
  it('facets actor_id of numeric user ids by their text, and pages through all of them', async () => {
    const user = (id: string | number) => ({ lookup_from: 'users', _id: id, label: `U${String(id)}` });
    const logs: ModelLogDocument[] = [7, 8, 10, 10].map((id, i) => ({
      ...modelLog(`facet-${i}`, 100 + i),
      uid: randomUUID(),
      request_uuid: 'r-facets',
      module: 'facets',
      user: user(id),
    }));
    await store().write({ requests: [], actionLogs: [], modelLogs: logs, activities: [] });
    const filter: StoreFilter = { request_uuid: 'r-facets' };
    const whole = await store().facets({ kind: 'changes', field: 'actor_id', filter, limit: 10 });
    expect(whole).toEqual([
      { value: '10', count: 2 },
      { value: '7', count: 1 },
      { value: '8', count: 1 },
    ]);
    const paged = [];
    let after: { value: string; count: number } | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await store().facets({ kind: 'changes', field: 'actor_id', filter, limit: 1, after });
      if (page.length === 0) break;
      paged.push(...page);
      after = page[0];
    }
    expect(paged).toEqual(whole);
  });

  it('counts a user id stored as a number and as its text as one facet value, as the actor_id filter does', async () => {
    const user = (id: string | number) => ({ lookup_from: 'users', _id: id, label: 'Ada' });
    const logs: ModelLogDocument[] = [42, '42'].map((id, i) => ({
      ...modelLog(`mixed-${i}`, 200 + i),
      uid: randomUUID(),
      request_uuid: 'r-mixed',
      module: 'mixed',
      user: user(id),
    }));
    await store().write({ requests: [], actionLogs: [], modelLogs: logs, activities: [] });
    expect(await store().count('changes', { request_uuid: 'r-mixed', actor_id: '42' })).toBe(2);
    expect(await store().facets({ kind: 'changes', field: 'actor_id', filter: { request_uuid: 'r-mixed' }, limit: 10 })).toEqual([
      { value: '42', count: 2 },
    ]);
  });

  // 3. A custom field is an equality "of the same type": MongoDB's `details.<name>: value` also matches an array
  //    holding the value (a free-object `details`), where the other stores do not.
  it('does not match a custom field whose value is a list holding the value', async () => {
    await writeActions(store(), [
      actionDoc('custom_list', 300, { details: { colors: ['red', 'blue'] } as never }),
      actionDoc('custom_scalar', 301, { details: { colors: 'red' } as never }),
    ]);
    const found = await all(store(), 'actions', { custom: [{ in: 'details', name: 'colors', value: 'red' }] });
    expect(found.map((a) => a.action_type)).toEqual(['custom_scalar']);
  });

  // 4. q: "words of the note and names, case and accents aside", the same on every store.
  it('finds a word written with combining marks (Hindi, Thai) by that very word', async () => {
    await writeActions(store(), [
      actionDoc('greet_hi', 400, { note: 'नमस्ते दुनिया' }),
      actionDoc('greet_th', 401, { note: 'สวัสดี ครับ' }),
    ]);
    const types = async (q: string) => (await all(store(), 'actions', { q })).map((a) => a.action_type);
    expect(await types('दुनिया')).toEqual(['greet_hi']);
    expect(await types('ครับ')).toEqual(['greet_th']);
  });

  it('splits words at underscores and currency signs, and matches everything for a q without a word', async () => {
    await writeActions(store(), [
      actionDoc('refund', 500, { note: 'refund_issued by bot' }),
      actionDoc('priced', 501, { note: 'price 10€ paid' }),
    ]);
    const types = async (q: string) => (await all(store(), 'actions', { q, from: new Date(Date.UTC(2026, 0, 1) + 500 * 60_000) })).map((a) => a.action_type);
    expect(await types('refund')).toEqual(['refund']);
    expect(await types('10')).toEqual(['priced']);
    expect(await types('€')).toEqual(['priced', 'refund']);
  });

  it('finds Arabic words with their vowel marks aside', async () => {
    await writeActions(store(), [actionDoc('greet_ar', 600, { note: 'مَرْحَبًا بالعالم' })]);
    expect((await all(store(), 'actions', { q: 'مرحبا' })).map((a) => a.action_type)).toEqual(['greet_ar']);
  });
});

// 5. Facets come "most frequent first, then by value", by code point (sql-reads.ts: "Values compare by code point on
//    both engines"). MemoryStore compares UTF-16 code units: a value beyond U+FFFF sorts before U+E000–U+FFFF.
//    (Not run on MongoDB: its test server, not MongoDB, decides that order here.)
describe.each(['memory', 'sqlite', 'postgres'] as const)('facet order on %s', (kind) => {
  const store = useStore(kind);
  it('orders facet values of equal counts by code point', async () => {
    await writeActions(store(), [
      actionDoc('wide', 700, { module: '\uFF01wide', request_uuid: 'r-order' }),
      actionDoc('emoji', 701, { module: '\u{1F600}emoji', request_uuid: 'r-order' }),
    ]);
    const facets = await store().facets({ kind: 'actions', field: 'module', filter: { request_uuid: 'r-order' }, limit: 10 });
    expect(facets.map((f) => f.value)).toEqual(['\uFF01wide', '\u{1F600}emoji']);
  });
});

// 6. A tail without a cursor starts "from now on, only entries stored after the call": its start is the newest entry
//    of `filter: {}` (tail.ts `head`), which leaves inactive actions out. A tail with include_inactive then begins
//    with the inactive actions stored before it. (Not run on PostgreSQL, where a tail from now may begin with the
//    entry stored just before it while another transaction of the server runs: that tolerance would hide it.)
describe.each(['memory', 'sqlite', 'mongodb'] as const)('tail on %s', (kind) => {
  const store = useStore(kind);
  it('tails only what is stored after the call, with include_inactive too', async () => {
    const logger = createActionLogger({ store: store(), flushIntervalMs: 0 });
    await logger.run({ user: { id: 1, name: 'Ada' } }, async () => {
      logger.record({ action: 'active_before' });
      logger.record({ action: 'inactive_before', is_active: false });
    });
    await logger.flush();
    const abort = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const { entry } of logger.tail({ kind: 'actions', include_inactive: true }, { signal: abort.signal, pollMs: 50 })) {
        seen.push(entry.action_type);
        if (entry.action_type === 'after') break;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await logger.run({ user: { id: 1, name: 'Ada' } }, () => logger.record({ action: 'after' }));
    await logger.flush();
    await Promise.race([following, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    abort.abort();
    await logger.close();
    expect(seen).toEqual(['after']);
  });
});
