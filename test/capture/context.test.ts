import { describe, expect, it, vi } from 'vitest';
import type { ModelChange } from '../../src/capture/model-change.js';
import { RequestContext, type ScopeInit } from '../../src/capture/context.js';
import type { ActionEntry, UserRef } from '../../src/shared/document.js';

interface FakeRequest {
  user?: { id: string; name: string } | null;
  ip?: string;
}

const describeUser = (user: unknown): UserRef | null => {
  const u = user as { id?: string; name?: string };
  return u.id ? { lookup_from: 'users', _id: u.id, label: u.name ?? u.id } : null;
};

function scope(init: Partial<ScopeInit<FakeRequest>> = {}, describeWith = describeUser): RequestContext {
  return new RequestContext({ requestUuid: 'req-1', ...init } as ScopeInit, describeWith, (error) => {
    throw error;
  });
}

/** A scope over a request, with spies on how its user and address are read. */
function overRequest(request: FakeRequest) {
  const userOf = vi.fn((req: FakeRequest) => req.user);
  const ipOf = vi.fn((req: FakeRequest) => req.ip);
  const described = vi.fn(describeUser);
  const context = scope({ source: request, userOf, ipOf }, described);
  return { context, userOf, ipOf, described };
}

function change(id: string): ModelChange {
  return {
    action: 'Updated',
    model: 'orders',
    model_class_name: 'Order',
    model_namespace: 'shop.orders',
    model_id: id,
    old_object: { _id: id },
    new_object: { _id: id },
  };
}

function action(type: string): ActionEntry {
  return {
    action_type: type,
    action_category: null,
    actor_id: null,
    actor: null,
    target_type: null,
    target_id: null,
    target: null,
    context: null,
    note: null,
    source: null,
    details: [],
    tags: [],
    entity_path: null,
    emitted_at: new Date(0),
    saved_at: null,
    is_active: true,
  };
}

describe('RequestContext', () => {
  describe('when it opens', () => {
    it('keeps what it was opened with', () => {
      const metadata = { job: 'nightly' };
      const context = scope({ requestUuid: 'abc', module: 'billing', correlationId: 'corr-1', metadata });
      expect(context.requestUuid).toBe('abc');
      expect(context.module).toBe('billing');
      expect(context.correlationId).toBe('corr-1');
      expect(context.metadata).toBe(metadata);
      expect(context.timestamp).toBeInstanceOf(Date);
    });

    it('is not ended, and has no ending', () => {
      const context = scope();
      expect(context.ended).toBe(false);
      expect(context.endedWith).toEqual({});
    });

    it('has no user, address or module when nothing gives them', () => {
      const context = scope();
      expect(context.user).toBeNull();
      expect(context.ip).toBeNull();
      expect(context.module).toBeUndefined();
    });

    it('counts milliseconds since it opened', async () => {
      const context = scope();
      const first = context.elapsedMs();
      expect(first).toBeGreaterThanOrEqual(0);
      await new Promise((resolve) => setTimeout(resolve, 15));
      expect(context.elapsedMs()).toBeGreaterThanOrEqual(first + 10);
    });
  });

  describe('module', () => {
    it('is overridden by setModule', () => {
      const context = scope({ module: 'billing' });
      context.setModule('shipping');
      expect(context.module).toBe('shipping');
    });
  });

  describe('ip', () => {
    it('is read from the source once, then remembered', () => {
      const request: FakeRequest = { ip: '10.0.0.1' };
      const { context, ipOf } = overRequest(request);
      expect(context.ip).toBe('10.0.0.1');
      request.ip = '10.0.0.2';
      expect(context.ip).toBe('10.0.0.1');
      expect(ipOf).toHaveBeenCalledTimes(1);
      expect(ipOf).toHaveBeenCalledWith(request);
    });

    it('is null when the source has no address, and that answer is remembered too', () => {
      const request: FakeRequest = {};
      const { context, ipOf } = overRequest(request);
      expect(context.ip).toBeNull();
      request.ip = '10.0.0.2';
      expect(context.ip).toBeNull();
      expect(ipOf).toHaveBeenCalledTimes(1);
    });

    it('is read at the end when nobody asked before, and kept after the source is let go', () => {
      const { context, ipOf } = overRequest({ ip: '10.0.0.1' });
      context.end();
      expect(ipOf).toHaveBeenCalledTimes(1);
      expect(context.ip).toBe('10.0.0.1');
      expect(ipOf).toHaveBeenCalledTimes(1);
    });
  });

  describe('user', () => {
    it('is resolved from the source and described', () => {
      const { context, described } = overRequest({ user: { id: 'u1', name: 'Ada' } });
      expect(context.user).toEqual({ lookup_from: 'users', _id: 'u1', label: 'Ada' });
      expect(described).toHaveBeenCalledWith({ id: 'u1', name: 'Ada' });
    });

    it('is cached once found', () => {
      const request: FakeRequest = { user: { id: 'u1', name: 'Ada' } };
      const { context, userOf, described } = overRequest(request);
      const first = context.user;
      request.user = { id: 'u2', name: 'Bob' };
      expect(context.user).toBe(first);
      expect(userOf).toHaveBeenCalledTimes(1);
      expect(described).toHaveBeenCalledTimes(1);
    });

    it('is looked up again while not found, so a user authenticated later in the request is seen', () => {
      const request: FakeRequest = {};
      const { context, userOf } = overRequest(request);
      expect(context.user).toBeNull();
      expect(context.user).toBeNull();
      request.user = { id: 'u1', name: 'Ada' };
      expect(context.user).toEqual({ lookup_from: 'users', _id: 'u1', label: 'Ada' });
      expect(userOf).toHaveBeenCalledTimes(3);
    });

    it('is looked up again while the description finds nobody', () => {
      const request: FakeRequest = { user: { id: '', name: 'anonymous' } };
      const { context, described } = overRequest(request);
      expect(context.user).toBeNull();
      request.user = { id: 'u1', name: 'Ada' };
      expect(context.user?._id).toBe('u1');
      expect(described).toHaveBeenCalledTimes(2);
    });

    it('does not describe a null or undefined user', () => {
      const { context, described } = overRequest({ user: null });
      expect(context.user).toBeNull();
      const other = overRequest({});
      expect(other.context.user).toBeNull();
      expect(described).not.toHaveBeenCalled();
      expect(other.described).not.toHaveBeenCalled();
    });

    it('is set by setUser, which wins over the source from then on', () => {
      const { context, userOf } = overRequest({ user: { id: 'u1', name: 'Ada' } });
      context.setUser({ id: 'u9', name: 'Root' });
      expect(context.user).toEqual({ lookup_from: 'users', _id: 'u9', label: 'Root' });
      expect(userOf).not.toHaveBeenCalled();
    });

    it('is cleared by setUser(null), without looking at the source again', () => {
      const { context, userOf } = overRequest({ user: { id: 'u1', name: 'Ada' } });
      expect(context.user?._id).toBe('u1');
      context.setUser(null);
      expect(context.user).toBeNull();
      expect(userOf).toHaveBeenCalledTimes(1);
    });

    it('replaces a user found earlier when set', () => {
      const { context } = overRequest({ user: { id: 'u1', name: 'Ada' } });
      expect(context.user?._id).toBe('u1');
      context.setUser({ id: 'u2', name: 'Bob' });
      expect(context.user?._id).toBe('u2');
    });
  });

  describe('end()', () => {
    it('returns true the first time only', () => {
      const context = scope();
      expect(context.end()).toBe(true);
      expect(context.end()).toBe(false);
      expect(context.ended).toBe(true);
    });

    it('records how the scope ended, once', () => {
      const context = scope();
      const ending = { run: { durationMs: 12, error: null } };
      context.end(ending);
      context.end({ run: { durationMs: 99, error: { name: 'Error', message: 'late' } } });
      expect(context.endedWith).toBe(ending);
    });

    it('keeps an empty ending when ended without one', () => {
      const context = scope();
      context.end();
      expect(context.endedWith).toEqual({});
    });

    it('resolves the user at the end, when nobody asked before, and keeps it', () => {
      const request: FakeRequest = { user: { id: 'u1', name: 'Ada' } };
      const { context, userOf } = overRequest(request);
      expect(userOf).not.toHaveBeenCalled();
      context.end();
      expect(userOf).toHaveBeenCalledTimes(1);
      request.user = { id: 'u2', name: 'Bob' };
      expect(context.user?._id).toBe('u1');
    });

    it('settles on no user when none was found by the end', () => {
      const request: FakeRequest = {};
      const { context, userOf } = overRequest(request);
      context.end();
      request.user = { id: 'u1', name: 'Ada' };
      expect(context.user).toBeNull();
      expect(userOf).toHaveBeenCalledTimes(1);
    });

    it('lets go of the source', () => {
      const { context } = overRequest({ ip: '10.0.0.1' });
      expect(context.source).toBeDefined();
      context.end();
      expect(context.source).toBeUndefined();
    });

    it('keeps a user set after the end', () => {
      const context = scope();
      context.end();
      context.setUser({ id: 'u1', name: 'Ada' });
      expect(context.user?._id).toBe('u1');
    });
  });

  describe('events', () => {
    it('go into the document while the scope is open, in order', () => {
      const context = scope();
      expect(context.addModelChange(change('a'))).toBe(false);
      expect(context.addAction(action('first'))).toBe(false);
      expect(context.addModelChange(change('b'))).toBe(false);
      expect(context.addAction(action('second'))).toBe(false);
      context.end();
      const events = context.takeEvents();
      expect(events.modelChanges.map((c) => c.model_id)).toEqual(['a', 'b']);
      expect(events.actions.map((a) => a.action_type)).toEqual(['first', 'second']);
    });

    it('still go into the document once ended, until the document is taken', () => {
      const context = scope();
      context.addModelChange(change('a'));
      context.end();
      expect(context.addModelChange(change('b'))).toBe(false);
      expect(context.addAction(action('queued'))).toBe(false);
      const events = context.takeEvents();
      expect(events.modelChanges.map((c) => c.model_id)).toEqual(['a', 'b']);
      expect(events.actions.map((a) => a.action_type)).toEqual(['queued']);
    });

    it('are empty lists when there were none', () => {
      const context = scope();
      context.end();
      expect(context.takeEvents()).toEqual({ modelChanges: [], actions: [] });
      expect(context.takeLateEvents()).toEqual({ modelChanges: [], actions: [] });
    });

    it('are taken once: a second take finds none', () => {
      const context = scope();
      context.addModelChange(change('a'));
      context.end();
      expect(context.takeEvents().modelChanges).toHaveLength(1);
      expect(context.takeEvents()).toEqual({ modelChanges: [], actions: [] });
    });

    it('are late once the document was taken, and kept apart from it', () => {
      const context = scope();
      context.addModelChange(change('a'));
      context.end();
      const document = context.takeEvents();
      context.addModelChange(change('late'));
      context.addAction(action('late'));
      expect(document.modelChanges.map((c) => c.model_id)).toEqual(['a']);
      expect(document.actions).toEqual([]);
      const late = context.takeLateEvents();
      expect(late.modelChanges.map((c) => c.model_id)).toEqual(['late']);
      expect(late.actions.map((a) => a.action_type)).toEqual(['late']);
    });

    it('ask for an append on the first late event only, until the late events are taken', () => {
      const context = scope();
      context.end();
      context.takeEvents();
      expect(context.addModelChange(change('a'))).toBe(true);
      expect(context.addAction(action('b'))).toBe(false);
      expect(context.addModelChange(change('c'))).toBe(false);
      expect(context.takeLateEvents().modelChanges.map((c) => c.model_id)).toEqual(['a', 'c']);
      expect(context.addAction(action('d'))).toBe(true);
      expect(context.addModelChange(change('e'))).toBe(false);
      const next = context.takeLateEvents();
      expect(next.actions.map((a) => a.action_type)).toEqual(['d']);
      expect(next.modelChanges.map((c) => c.model_id)).toEqual(['e']);
    });

    it('ask for an append on a late action as well as on a late change', () => {
      const context = scope();
      context.end();
      context.takeEvents();
      expect(context.addAction(action('a'))).toBe(true);
    });

    it('taken late leave nothing behind for the next append', () => {
      const context = scope();
      context.end();
      context.takeEvents();
      context.addModelChange(change('a'));
      context.takeLateEvents();
      expect(context.takeLateEvents()).toEqual({ modelChanges: [], actions: [] });
    });

    it('are never late before the document is taken, however many are added', () => {
      const context = scope();
      context.end();
      for (let i = 0; i < 5; i++) expect(context.addModelChange(change(String(i)))).toBe(false);
      expect(context.takeLateEvents()).toEqual({ modelChanges: [], actions: [] });
    });
  });

  describe('once its document is written', () => {
    it('is ended, and cannot be ended again', () => {
      const context = scope();
      context.end();
      context.takeEvents();
      expect(context.ended).toBe(true);
      expect(context.end()).toBe(false);
    });
  });
});
