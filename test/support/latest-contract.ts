import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ActionLogDocument,
  ActionLogConfigError,
  type ActionLogger,
  ActionLogValidationError,
  createActionLogger,
  type Store,
  type StoreBatch,
} from 'actionlog';
import { failOnWarning } from './matchers.js';
import { action, all, type StoreFactory } from './store-contract.js';

const DAY = 24 * 3600 * 1000;

/** Actions of `actor` as the mirror holds them, each in a batch of its own unless several are given together. */
function actions(...specs: Array<{ actor: string | null; type: string; minutes: number; note: string; expiresAt?: Date }>): StoreBatch {
  const actionLogs = specs.map((s): ActionLogDocument => ({
    ...action(s.type, s.minutes, {
      actor_id: s.actor,
      actor: s.actor === null ? null : { ref: s.actor, type: 'user', name: s.actor },
      note: s.note,
    }),
    request_uuid: `r-${s.note}`,
    module: 'orders',
    ...(s.expiresAt ? { expires_at: s.expiresAt } : {}),
  }));
  return { requests: [], actionLogs, modelLogs: [], activities: [] };
}

const noteOf = async (store: Store, actor: string, type: string) => (await store.latestAction!(actor, type))?.entry.note ?? null;

/** Option `latestActions` on one store: every store runs it (see `describeStore`). */
export function describeLatestActions(name: string, factory: StoreFactory): void {
  describe(`${name} (latest action per actor and type)`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      await store.init?.({ actionLogs: true, modelLogs: true, retention: true, latestActions: true, warn: failOnWarning });
    });
    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    it('keeps the newest action of each (actor, type) beside the full history, whatever the order of arrival', async () => {
      await store.write(actions({ actor: 'u1', type: 'login', minutes: 10, note: 'u1 login 10' }));
      // Older, arriving later: the full history has it, the latest does not move.
      await store.write(actions({ actor: 'u1', type: 'login', minutes: 5, note: 'u1 login 5' }));
      await store.write(actions({ actor: 'u1', type: 'logout', minutes: 7, note: 'u1 logout 7' }));
      await store.write(actions({ actor: 'u2', type: 'login', minutes: 3, note: 'u2 login 3' }));
      // Several of one pair in one batch, newest in the middle.
      await store.write(
        actions(
          { actor: 'u2', type: 'login', minutes: 8, note: 'u2 login 8' },
          { actor: 'u2', type: 'login', minutes: 9, note: 'u2 login 9' },
          { actor: 'u2', type: 'login', minutes: 4, note: 'u2 login 4' },
        ),
      );
      await store.write(actions({ actor: null, type: 'login', minutes: 20, note: 'nobody' }));
      expect(await noteOf(store, 'u1', 'login')).toBe('u1 login 10');
      expect(await noteOf(store, 'u1', 'logout')).toBe('u1 logout 7');
      expect(await noteOf(store, 'u2', 'login')).toBe('u2 login 9');
      expect(await noteOf(store, 'u2', 'logout')).toBeNull();
      expect(await noteOf(store, 'u3', 'login')).toBeNull();
      const found = await store.latestAction!('u1', 'login');
      expect(found!.entry).toMatchObject({ actor_id: 'u1', action_type: 'login', request_uuid: 'r-u1 login 10', is_active: true });
      // The position is the action's own, as queries give it.
      const [newest] = await store.query({
        kind: 'actions',
        filter: { actor_id: 'u1', action_type: 'login' },
        by: 'time',
        order: 'desc',
        limit: 1,
      });
      expect(found!.position.id).toBe(newest!.position.id);
      // Never overwritten: every action is in the history.
      expect((await all(store, 'actions', {}, 'asc')).map((a) => a.note)).toEqual([
        'u2 login 3',
        'u2 login 4',
        'u1 login 5',
        'u1 logout 7',
        'u2 login 8',
        'u2 login 9',
        'u1 login 10',
        'nobody',
      ]);
    });

    it('moves on to a later action, and a retry of the same batch changes nothing', async () => {
      const first = actions({ actor: 'u1', type: 'approve', minutes: 1, note: 'first' });
      await store.write(first);
      const later = actions({ actor: 'u1', type: 'approve', minutes: 2, note: 'later' });
      await store.write(later);
      await store.write(later);
      await store.write(first);
      expect(await noteOf(store, 'u1', 'approve')).toBe('later');
      expect(await store.count('actions', {})).toBe(2);
    });

    it('breaks a tie of emitted_at the same way whichever action arrives first', async () => {
      const a = actions({ actor: 'u1', type: 'tie', minutes: 3, note: 'a' });
      const b = actions({ actor: 'u1', type: 'tie', minutes: 3, note: 'b' });
      await store.write(a);
      await store.write(b);
      const winner = await noteOf(store, 'u1', 'tie');
      expect(['a', 'b']).toContain(winner);
      // Both written again, in the other order (retries of the same objects): the same one stays.
      await store.write(b);
      await store.write(a);
      expect(await noteOf(store, 'u1', 'tie')).toBe(winner);
    });

    it('answers null once the latest action is deactivated or expired (an older one does not take its place here)', async () => {
      await store.write(actions({ actor: 'u1', type: 'login', minutes: 1, note: 'older' }));
      await store.write(actions({ actor: 'u1', type: 'login', minutes: 2, note: 'newer' }));
      const held = await store.latestAction!('u1', 'login');
      expect(await store.deactivate!(String(held!.entry._id))).toBe(true);
      expect(await store.latestAction!('u1', 'login')).toBeNull();
      await store.write(actions({ actor: 'u1', type: 'export', minutes: 3, note: 'gone', expiresAt: new Date(Date.now() - 1000) }));
      expect(await store.latestAction!('u1', 'export')).toBeNull();
      await store.write(actions({ actor: 'u1', type: 'export', minutes: 4, note: 'kept', expiresAt: new Date(Date.now() + DAY) }));
      expect(await noteOf(store, 'u1', 'export')).toBe('kept');
    });
  });

  describe(`${name} (latest action through the logger)`, () => {
    let store: Store;
    let logger: ActionLogger;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      logger = createActionLogger({ store, flushIntervalMs: 0, latestActions: true, onError: (e) => expect.fail(e.message) });
      await logger.ready();
    });
    afterEach(async () => {
      await logger.close();
      await cleanup?.();
    });

    it('returns the newest action recorded by an actor of a type; a number id finds the actor as the filter does', async () => {
      const at = (minute: number) => new Date(Date.UTC(2026, 3, 1, 9, minute));
      await logger.run({}, () => {
        logger.record({ action: 'login', actor: 'u1', emitted_at: at(30), note: 'newest' });
        logger.record({ action: 'login', actor: 'u1', emitted_at: at(10), note: 'older' });
      });
      // The auditLog object's shape, its actor a number.
      await logger.run({}, () => logger.record({ actorUserId: 42, actionType: 'CREATE', targetObjectType: 'loan', targetObjectId: 7 }));
      await logger.run({}, () => logger.record({ action: 'login', actor: 'u1', emitted_at: at(20), note: 'late and older' }));
      await logger.flush();
      expect((await logger.latestAction('u1', 'login'))?.note).toBe('newest');
      expect(await logger.latestAction(42, 'CREATE')).toMatchObject({ actor_id: '42', action_type: 'CREATE', target_id: '7' });
      expect(await logger.latestAction('42', 'CREATE')).toMatchObject({ actor_id: '42' });
      expect(await logger.latestAction('u1', 'CREATE')).toBeNull();
      expect(await logger.count({ kind: 'actions', actor_id: 'u1' })).toBe(3);
    });

    it('after the latest action is deactivated, gives the newest one reads still return', async () => {
      await logger.run({}, () => {
        logger.record({ action: 'login', actor: 'u1', emitted_at: new Date(Date.UTC(2026, 3, 1)), note: 'first' });
        logger.record({ action: 'login', actor: 'u1', emitted_at: new Date(Date.UTC(2026, 3, 2)), note: 'second' });
      });
      await logger.flush();
      const second = await logger.latestAction('u1', 'login');
      await logger.deactivate(second!._id, { reason: 'entered by mistake', actor: 'admin' });
      expect((await logger.latestAction('u1', 'login'))?.note).toBe('first');
    });

    it('refuses bad arguments naming each, and says how to turn the option on when it is off', async () => {
      const bad = [
        [undefined, 'login', ['actor']],
        ['', 'login', ['actor']],
        [{ id: 1 }, 'login', ['actor']],
        ['u1', '', ['type']],
        ['u1', 7, ['type']],
        [null, null, ['actor', 'type']],
      ] as const;
      for (const [index, [actor, type, paths]] of bad.entries()) {
        const error = await logger.latestAction(actor as never, type as never).catch((e: unknown) => e);
        expect(error, `case ${index}`).toBeInstanceOf(ActionLogValidationError);
        expect((error as ActionLogValidationError).issues.map((i) => i.path)).toEqual(paths);
      }
      const off = createActionLogger({ store, flushIntervalMs: 0 });
      await expect(off.latestAction('u1', 'login')).rejects.toThrow(ActionLogConfigError);
      await expect(off.latestAction('u1', 'login')).rejects.toThrow(/latestActions: true/);
      await off.close();
      expect(() => createActionLogger({ store, latestActions: true, actionLogs: false })).toThrow(/latestActions.*needs actionLogs: true/);
    });
  });
}
