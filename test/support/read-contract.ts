import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ActionLogDocument,
  type ActionLogger,
  asAuditizeLog,
  asAuditLogObject,
  asServiceEntry,
  createActionLogger,
  type ModelLogDocument,
  type Store,
} from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { anyDate, failOnWarning } from './matchers.js';
import { AUDIT_LOG_OBJECT, AUDITIZE_LOG, SERVICE_CALL } from './source-examples.js';
import type { StoreFactory } from './store-contract.js';
import { batchOf, requestDoc } from './store-contract.js';

const T0 = Date.UTC(2026, 0, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

function change(id: string, minutes: number, action: ModelChange['action'], before: object | null, after: object | null): ModelChange {
  return {
    action,
    model: 'orders',
    model_class_name: 'Order',
    model_namespace: 'shop.orders',
    model_id: id,
    old_object: before as Record<string, unknown> | null,
    new_object: after as Record<string, unknown> | null,
    timestamp: at(minutes),
  };
}

/** A cursor the logger returned, its fields changed: what a client could send back. */
function reencoded(cursor: string, changes: object): string {
  const state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as object;
  return Buffer.from(JSON.stringify({ ...state, ...changes })).toString('base64url');
}

/** The read side through the logger, on one store: every store runs it (see `describeStore`). */
export function describeReadSide(name: string, factory: StoreFactory): void {
  describe(`${name} (read side)`, () => {
    let store: Store;
    let logger: ActionLogger;
    let cleanup: (() => Promise<void>) | undefined;
    let nowTrails: boolean | undefined;

    beforeEach(async () => {
      ({ store, cleanup, nowTrailsRunningTransactions: nowTrails } = await factory());
      await store.init?.({ actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning });
      logger = createActionLogger({ store, flushIntervalMs: 0, onError: (e) => expect.fail(e.message) });
    });
    afterEach(async () => {
      await logger.close();
      await cleanup?.();
    });

    it('pages 5000 entries of each kind with limit 37 while 1000 more are written: none skipped, none repeated', async () => {
      const docs = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => requestDoc(`p${from + i}`, (from + i) % 97, { uid: `uid-p${from + i}` }));
      for (let i = 0; i < 5000; i += 500) await store.write(batchOf(docs(i, 500)));
      for (const kind of ['requests', 'actions', 'changes'] as const) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let written = 5000 + (kind === 'requests' ? 0 : kind === 'actions' ? 1000 : 2000);
        const writes: Array<Promise<void>> = [];
        do {
          const page: { items: Array<{ request_uuid: string }>; next_cursor: string | null } = await logger.query(
            { kind },
            { limit: 37, cursor },
          );
          seen.push(...page.items.map((e) => e.request_uuid));
          cursor = page.next_cursor;
          // Written while paging, without waiting: some land before the cursor, some after.
          if (written < 5000 + 3000 && writes.length < 100) {
            writes.push(store.write(batchOf(docs(written, 10))));
            written += 10;
          }
        } while (cursor);
        await Promise.all(writes);
        expect(new Set(seen).size, `${kind}: an entry was repeated`).toBe(seen.length);
        const originals = new Set(seen.filter((id) => Number(id.slice(1)) < 5000));
        expect(originals.size, `${kind}: an entry was skipped`).toBe(5000);
      }
    }, 180_000);

    it('tells the history of one record, oldest first, with who, when and what changed', async () => {
      const ada = { id: 'u1', name: 'Ada' };
      await logger.run({ requestUuid: 'create', user: ada }, () => {
        logger.recordModelChange(change('42', 1, 'Created', null, { _id: '42', status: 'new', total: 10 }));
        logger.recordModelChange(change('43', 1, 'Created', null, { _id: '43', status: 'new', total: 5 }));
      });
      await logger.run({ requestUuid: 'pay', user: { id: 'u2', name: 'Bo' } }, () => {
        logger.recordModelChange(
          change('42', 2, 'Updated', { _id: '42', status: 'new', total: 10 }, { _id: '42', status: 'paid', total: 12 }),
        );
      });
      await logger.run({ requestUuid: 'drop' }, () => {
        logger.recordModelChange(change('42', 3, 'Deleted', { _id: '42', status: 'paid', total: 12 }, null));
      });
      await logger.flush();
      const { items, next_cursor } = await logger.history('orders', 42);
      expect(next_cursor).toBeNull();
      expect(items.map((i) => [i.action, i.request_uuid, i.who?.label ?? null, i.when])).toEqual([
        ['Created', 'create', 'Ada', at(1)],
        ['Updated', 'pay', 'Bo', at(2)],
        ['Deleted', 'drop', null, at(3)],
      ]);
      expect(items[1]!.changed_fields).toEqual(['status', 'total']);
      expect(items[1]!.changes).toEqual([
        { path: 'status', old: 'new', new: 'paid' },
        { path: 'total', old: 10, new: 12 },
      ]);
      expect(items[1]!.old_object).toEqual({ _id: '42', status: 'new', total: 10 });
      const newest = await logger.history('orders', '42', { order: 'desc', limit: 2 });
      expect(newest.items.map((i) => i.action)).toEqual(['Deleted', 'Updated']);
      const rest = await logger.history('orders', '42', { order: 'desc', limit: 2, cursor: newest.next_cursor });
      expect(rest.items.map((i) => i.action)).toEqual(['Created']);
    });

    it('gives the state of a record at any moment, and says when the trail cannot prove it', async () => {
      const v1 = { _id: '7', status: 'new', total: 10 };
      const v2 = { _id: '7', status: 'paid', total: 10 };
      await logger.run({}, () => {
        logger.recordModelChange(change('7', 10, 'Created', null, v1));
        logger.recordModelChange(change('7', 20, 'Updated', v1, v2));
        logger.recordModelChange(change('7', 30, 'Deleted', v2, null));
        // Another record whose history starts mid-life, and one changed behind actionlog's back.
        logger.recordModelChange(change('8', 10, 'Updated', { _id: '8', n: 1 }, { _id: '8', n: 2 }));
        logger.recordModelChange(change('9', 10, 'Created', null, { _id: '9', n: 1 }));
        logger.recordModelChange(change('9', 20, 'Updated', { _id: '9', n: 5 }, { _id: '9', n: 6 }));
      });
      await logger.flush();
      expect(await logger.stateAt('orders', '7', at(5))).toEqual({ state: null, complete: true });
      expect(await logger.stateAt('orders', '7', at(10))).toMatchObject({ state: v1, complete: true });
      expect(await logger.stateAt('orders', '7', at(15))).toMatchObject({
        state: v1,
        complete: true,
        from_change: { action: 'Created', when: at(10) },
      });
      expect(await logger.stateAt('orders', '7', at(20))).toMatchObject({ state: v2, complete: true });
      expect(await logger.stateAt('orders', '7', at(35))).toMatchObject({
        state: null,
        complete: true,
        from_change: { action: 'Deleted' },
      });
      expect(await logger.stateAt('orders', '8', at(5))).toMatchObject({
        state: null,
        complete: false,
        why: expect.stringMatching(/starts after/) as unknown,
      });
      expect(await logger.stateAt('orders', '8', at(15))).toMatchObject({ state: { _id: '8', n: 2 }, complete: true });
      expect(await logger.stateAt('orders', '9', at(15))).toMatchObject({
        state: { _id: '9', n: 1 },
        complete: false,
        why: expect.stringMatching(/changed outside actionlog between/) as unknown,
      });
      expect(await logger.stateAt('orders', 'none', at(15))).toEqual({
        state: null,
        complete: false,
        why: 'no change of this record is in the trail',
      });
    });

    it('says a state is not whole when paths were omitted or values redacted', async () => {
      await logger.run({}, () => {
        logger.recordModelChange({
          ...change('5', 1, 'Created', null, { _id: '5', pin: '1234', password: 'x', name: 'n' }),
          omit: ['pin'],
        });
      });
      await logger.flush();
      const found = await logger.stateAt('orders', '5', at(2));
      expect(found.state).toEqual({ _id: '5', password: '[REDACTED]', name: 'n' });
      expect(found.complete).toBe(false);
      expect(found.why).toBe('omitted paths are not in the trail: pin; values redacted or cut when stored: password');
    });

    it("records each source's own example verbatim and reads it back losslessly", async () => {
      await logger.run({ module: 'shapes' }, () => {
        logger.record(AUDITIZE_LOG);
        logger.record(SERVICE_CALL);
        logger.record(AUDIT_LOG_OBJECT);
      });
      await logger.flush();
      const { items } = await logger.query({ kind: 'actions', module: 'shapes' });
      expect(items).toHaveLength(3);
      const byType = (type: string) => items.find((e) => e.action_type === type);
      const [auditize, service, auditLog] = [byType('job_offer_creation'), byType('CREATE'), byType('LOAN_APPROVED')];

      // Flat for the indexes, rich objects beside, custom fields typed.
      expect(auditize).toMatchObject({
        action_type: 'job_offer_creation',
        action_category: 'job_offers',
        actor_id: AUDITIZE_LOG.actor.ref,
        target_type: 'job_offer',
        target_id: AUDITIZE_LOG.resource.ref,
        target: { type: 'job_offer', id: AUDITIZE_LOG.resource.ref, name: AUDITIZE_LOG.resource.name, extra: [] },
        source: [
          { name: 'application', value: 'myATS', type: 'string' },
          { name: 'application_version', value: '1.0.0', type: 'string' },
        ],
        actor: { extra: [{ name: 'email', value: 'john.pierce@example.com', type: 'string' }] },
      });
      expect(asAuditizeLog(auditize!)).toEqual({ ...AUDITIZE_LOG, emitted_at: anyDate, saved_at: anyDate });

      expect(service).toMatchObject({
        action_type: 'CREATE',
        actor_id: 'user123',
        target_type: 'MCP_DEFINITION',
        target_id: '1',
        details: SERVICE_CALL.details,
      });
      expect(asServiceEntry(service!)).toEqual({ ...SERVICE_CALL, timestamp: anyDate });

      expect(auditLog).toMatchObject({ action_type: 'LOAN_APPROVED', actor_id: '42', target_type: 'LOAN', target_id: '981' });
      expect(asAuditLogObject(auditLog!)).toEqual(AUDIT_LOG_OBJECT);

      // Each found by its flat columns, as the indexes serve them.
      const ids = async (filter: Record<string, string>) =>
        (await logger.query({ kind: 'actions', ...filter })).items.map((e: ActionLogDocument) => e.action_type);
      expect(await ids({ target_type: 'MCP_DEFINITION', target_id: '1' })).toEqual(['CREATE']);
      expect(await ids({ actor_id: '42', action_type: 'LOAN_APPROVED' })).toEqual(['LOAN_APPROVED']);
      expect(await ids({ entity_ref: 'a4cdd5d5-f41a-44cd-838c-dd99b29b8d55' })).toEqual(['job_offer_creation']);
      expect(await ids({ 'source.application': 'myATS' })).toEqual(['job_offer_creation']);
      expect(await ids({ 'details.name': 'New MCP' })).toEqual(['CREATE']);
    });

    it('counts and facets through the logger, with the same filters as queries', async () => {
      await logger.run({ user: { id: 'u1', name: 'Ada' }, module: 'loans' }, () => {
        logger.record({ action: 'approve', target: { type: 'loan', id: 1 }, tags: [{ type: 'vip' }] });
        logger.record({ action: 'approve', target: { type: 'loan', id: 2 } });
        logger.record({ action: 'reject', target: { type: 'loan', id: 3 } });
      });
      await logger.flush();
      expect(await logger.count({ kind: 'actions' })).toBe(3);
      expect(await logger.count({ kind: 'actions', action_type: 'approve', actor_id: 'u1' })).toBe(2);
      expect(await logger.count({ kind: 'requests', module: 'loans' })).toBe(1);
      const first = await logger.facets('action_type', { kind: 'actions' }, { limit: 1 });
      expect(first.items).toEqual([{ value: 'approve', count: 2 }]);
      const second = await logger.facets('action_type', { kind: 'actions' }, { limit: 1, cursor: first.next_cursor });
      expect(second).toEqual({ items: [{ value: 'reject', count: 1 }], next_cursor: null });
      expect((await logger.facets('tag_type', { kind: 'actions' })).items).toEqual([{ value: 'vip', count: 1 }]);
    });

    it('exports every entry as JSON lines or CSV, a page at a time, resumable from its cursor', async () => {
      for (let i = 0; i < 1200; i += 300) {
        await store.write(batchOf(Array.from({ length: 300 }, (_, k) => requestDoc(`x${i + k}`, (i + k) % 50, { uid: `uid-x${i + k}` }))));
      }
      const lines = async (stream: AsyncIterable<unknown>) => {
        let text = '';
        for await (const chunk of stream) text += String(chunk);
        return text.split(/\r?\n/).filter(Boolean);
      };
      const jsonl = (await lines(logger.export({ kind: 'actions' }, { pageSize: 97 }))).map(
        (line) => JSON.parse(line) as { request_uuid: string; emitted_at: string },
      );
      expect(jsonl).toHaveLength(1200);
      expect(new Set(jsonl.map((e) => e.request_uuid)).size).toBe(1200);
      const times = jsonl.map((e) => Date.parse(e.emitted_at));
      expect(times).toEqual([...times].sort((a, b) => a - b));

      // Stopped midway, resumed from its cursor: every entry once.
      const first = logger.export({ kind: 'requests' }, { pageSize: 50 });
      const head: string[] = [];
      for await (const chunk of first) {
        head.push(...String(chunk).split('\n').filter(Boolean));
        if (head.length >= 130) break;
      }
      const resumed = await lines(logger.export({ kind: 'requests' }, { pageSize: 50, cursor: first.cursor }));
      const ids = [...head, ...resumed].map((line) => (JSON.parse(line) as { request_uuid: string }).request_uuid);
      // Stopped after reading 130 lines, whatever the stream had buffered beyond: no gap, no repeat.
      expect(ids).toHaveLength(1200);
      expect(new Set(ids).size).toBe(1200);

      const csv = await lines(
        logger.export(
          { kind: 'changes', model_id: '1' },
          { format: 'csv', columns: ['model', 'changes.status.old', 'changes.status.new', 'user.label'] },
        ),
      );
      expect(csv[0]).toBe('model,changes.status.old,changes.status.new,user.label');
      expect(csv.slice(1, 3)).toEqual(['orders,new,paid,Ada', 'orders,new,paid,Ada']);
      expect(csv).toHaveLength(1201);
    }, 120_000);

    it('checks export columns before anything is read, and writes CSV a spreadsheet cannot run', async () => {
      expect(() => logger.export({ kind: 'actions' }, { format: 'csv', columns: ['action_type', 'colour', 'changes.x.old'] })).toThrow(
        'Invalid export options: columns.1: "colour" is not a field of actions; columns.2: "changes.x.old" is not a field of actions',
      );
      expect(() => logger.export({ kind: 'changes' }, { format: 'csv', columns: ['changes.status'] })).toThrow(/changes.<field>.old/);
      expect(() => logger.export({ kind: 'actions' }, { format: 'xml' as never })).toThrow(
        'Invalid export options: format: must be "jsonl" or "csv"',
      );
      await logger.run({}, () => {
        logger.record({ action: 'import', note: '=HYPERLINK("http://x","click"), then "quotes"\nand a line' });
      });
      await logger.flush();
      let text = '';
      for await (const chunk of logger.export({ kind: 'actions' }, { format: 'csv', columns: ['action_type', 'note'] }))
        text += String(chunk);
      expect(text).toBe('action_type,note\r\nimport,"\'=HYPERLINK(""http://x"",""click""), then ""quotes""\nand a line"\r\n');
    });

    it('follows new entries as they are stored, in order, and resumes after a cursor', async () => {
      await logger.run({}, () => logger.record({ action: 'before' }));
      await logger.flush();
      const abort = new AbortController();
      const seen: string[] = [];
      let resumeAt: string | undefined;
      const following = (async () => {
        for await (const { entry, cursor } of logger.tail({ kind: 'actions' }, { signal: abort.signal, pollMs: 50 })) {
          seen.push(entry.action_type);
          if (entry.action_type === 'a2') resumeAt = cursor;
          if (seen.length === 4) break;
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const name of ['a1', 'a2', 'a3', 'a4', 'a5']) {
        await logger.run({}, () => logger.record({ action: name }));
        await logger.flush();
      }
      await following;
      // Where "now" trails the transactions still running elsewhere on the server, the entry stored just before
      // the tail may come first; nothing else differs: in order, none missed, none twice.
      const early = nowTrails && seen[0] === 'before' ? 1 : 0;
      expect(seen).toEqual(['before', 'a1', 'a2', 'a3', 'a4'].slice(1 - early, 5 - early));
      const rest: string[] = [];
      for await (const { entry } of logger.tail({ kind: 'actions' }, { after: resumeAt, signal: abort.signal, pollMs: 50 })) {
        rest.push(entry.action_type);
        if (rest.length === 3) break;
      }
      expect(rest).toEqual(['a3', 'a4', 'a5']);
      abort.abort();
      expect(() => logger.tail({ kind: 'requests' }, { after: resumeAt })).toThrow(
        'after: belongs to another query (a different kind, order or filter)',
      );
    });

    it('starts a tail of inactive actions too after what is stored now, an inactive action stored last included', async () => {
      await logger.run({}, () => {
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
      await new Promise((resolve) => setTimeout(resolve, 100));
      await logger.run({}, () => logger.record({ action: 'after' }));
      await logger.flush();
      await following;
      abort.abort();
      // As above: where "now" trails running transactions, the request stored just before may come first, and then
      // whole (its two actions were written in one transaction). A tail starting between them is the fault tested.
      const early = nowTrails && seen[0] === 'active_before' ? ['active_before', 'inactive_before'] : [];
      expect(seen).toEqual([...early, 'after']);
    });

    it('refuses a well-formed cursor holding a position this store cannot have made, in query and tail, before reading', async () => {
      for (const name of ['f1', 'f2']) await logger.run({}, () => logger.record({ action: name }));
      await logger.flush();
      const { next_cursor: cursor } = await logger.query({ kind: 'actions' }, { limit: 1, order: 'asc' });
      // The cursor of this query, and of a tail of the same filter, moved to a position no store makes.
      const elsewhere = (changes: object) => reencoded(cursor!, { id: 'other-store:7', seq: 'other-store:7', ...changes });
      const read = vi.spyOn(store, 'query');
      const refusal = { name: 'ActionLogValidationError', issues: [{ path: 'cursor', message: 'is not a cursor of this store' }] };
      await expect(logger.query({ kind: 'actions' }, { limit: 1, order: 'asc', cursor: elsewhere({}) })).rejects.toMatchObject(refusal);
      let thrown: unknown;
      try {
        logger.tail({ kind: 'actions' }, { after: elsewhere({ for: 't' }) });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ ...refusal, issues: [{ path: 'after', message: 'is not a cursor of this store' }] });
      expect(read).not.toHaveBeenCalled();
    });

    it('reads change entries with their request user and correlation id', async () => {
      await logger.run({ user: { id: 'u9', name: 'Cy' }, correlationId: 'corr-7' }, () => {
        logger.recordModelChange(change('1', 1, 'Created', null, { _id: '1' }));
      });
      await logger.flush();
      const { items } = await logger.query({ kind: 'changes', actor_id: 'u9' });
      expect(items.map((e: ModelLogDocument) => [e.model_id, e.user?.label, e.correlation_id])).toEqual([['1', 'Cy', 'corr-7']]);
    });
  });
}
