import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ActionLogClosedError,
  ActionLogConfigError,
  type ActionLogger,
  type ActionLoggerOptions,
  ActionLogValidationError,
  createActionLogger,
  MemoryStore,
} from 'actionlog';
import type { ModelChange } from 'actionlog/adapter-kit';
import { orderChange } from '../examples/shared/orders.js';

const loggers: ActionLogger[] = [];
function make(options: Partial<ActionLoggerOptions> = {}) {
  const store = (options.store as MemoryStore | undefined) ?? new MemoryStore();
  const logger = createActionLogger({ flushIntervalMs: 0, ...options, store });
  loggers.push(logger);
  return { logger, store };
}
afterEach(async () => {
  await Promise.all(loggers.splice(0).map((l) => l.close()));
});

const change = orderChange;

/**
 * Runs `fault` on the document of request `requestUuid` as the logger's own builder makes it: a fault none of the
 * inputs the builder checks can cause.
 */
function faultInBuild(logger: ActionLogger, requestUuid: string, fault: (doc: Record<string, unknown>) => void): void {
  type Builder = { request(ctx: { requestUuid: string }, events: unknown, batch: { requests: Array<Record<string, unknown>> }): void };
  const builder = (logger as unknown as { builder: Builder }).builder;
  const build = builder.request.bind(builder);
  builder.request = (ctx, events, batch) => {
    build(ctx, events, batch);
    const doc = batch.requests.at(-1);
    if (ctx.requestUuid === requestUuid && doc) fault(doc);
  };
}

/** Five runs, `r0` to `r4`, each recording one action. */
async function recordFive(logger: ActionLogger): Promise<void> {
  for (let i = 0; i < 5; i++) await logger.run({ requestUuid: `r${i}` }, () => logger.record({ action: 'tick' }));
}

const storedIds = (store: MemoryStore) =>
  store
    .requests()
    .map((d) => d.request_uuid)
    .sort();

describe('createActionLogger options', () => {
  it.each([
    ['an unknown option', 'colour', { colour: 'red' }],
    ['a misspelled option', 'batchsize', { batchsize: 10 }],
    ['a missing store', 'store', { store: undefined }],
    ['an object that is not a store', 'store', { store: { write() {} } }],
    ['a negative batch size', 'batchSize', { batchSize: -1 }],
    ['a fractional retry count', 'maxRetries', { maxRetries: 1.5 }],
    ['no concurrent write', 'concurrentWrites', { concurrentWrites: 0 }],
    ['more than 16 concurrent writes', 'concurrentWrites', { concurrentWrites: 17 }],
    ['a largest batch below the batch size', 'maxBatchSize', { batchSize: 50, maxBatchSize: 20 }],
    ['an unknown outsideContext', 'outsideContext', { outsideContext: 'drop' }],
    ['an onError that is not a function', 'onError', { onError: 'console' }],
    ['an unknown limit', 'limits.maxBody', { limits: { maxBody: 10 } }],
    ['a document budget over 16 MiB', 'maxDocumentBytes', { maxDocumentBytes: 20 * 1024 * 1024 }],
    ['redactKeys that are not strings', 'redactKeys.0', { redactKeys: [1] }],
  ])('rejects %s, naming %s', (_what, path, options) => {
    let caught: unknown;
    try {
      createActionLogger({ store: new MemoryStore(), ...(options as object) });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ActionLogConfigError);
    expect((caught as ActionLogConfigError).issues.map((i) => i.path)).toContain(path);
    expect((caught as Error).message).toContain(path);
  });
});

describe('logger.run()', () => {
  it('stores one document for the run, with its module, user, metadata and outcome', async () => {
    const { logger, store } = make();
    const result = await logger.run({ module: 'nightly-job', user: { id: 7, username: 'cron' }, metadata: { batch: 3 } }, async () => {
      logger.recordModelChange(change('o1'));
      logger.record({ action: 'reindex' });
      return 'done';
    });
    expect(result).toBe('done');
    await logger.flush();
    const [doc, ...rest] = store.requests();
    expect(rest).toHaveLength(0);
    expect(doc).toMatchObject({
      module: 'nightly-job',
      details: {
        request: null,
        response: null,
        run: { user_details: { lookup_from: 'users', _id: 7, label: 'cron' }, metadata: { batch: 3 }, error: null },
      },
    });
    expect(doc!.details.model_logs[0]!.model_details.changed_fields).toEqual(['status']);
    expect(doc!.details.actions[0]!.actor_id).toBe('7');
  });

  it('stores the document when the function throws, and rethrows', async () => {
    const { logger, store } = make();
    await expect(
      logger.run({ module: 'import' }, async () => {
        logger.recordModelChange(change('o1'));
        throw new TypeError('bad row');
      }),
    ).rejects.toThrow('bad row');
    await logger.flush();
    const [doc] = store.requests();
    expect(doc!.details.run!.error).toEqual({ name: 'TypeError', message: 'bad row' });
    expect(doc!.details.model_logs).toHaveLength(1);
  });

  it('exposes the scope through current(), and nothing outside it', async () => {
    const { logger } = make();
    expect(logger.current()).toBeUndefined();
    await logger.run({ requestUuid: 'job-1', module: 'm' }, async () => {
      await sleep(1);
      expect(logger.current()?.requestUuid).toBe('job-1');
      await logger.run({ module: 'inner' }, async () => {
        expect(logger.current()?.requestUuid).not.toBe('job-1');
      });
      expect(logger.current()?.requestUuid).toBe('job-1');
    });
    expect(logger.current()).toBeUndefined();
  });

  it('runs a returned thenable inside the scope (a query that only executes when awaited)', async () => {
    const { logger } = make();
    const thenable = {
      then: (resolve: (v: unknown) => void) => {
        resolve(logger.current()?.requestUuid);
      },
    };
    await expect(logger.run({ requestUuid: 'lazy' }, () => thenable)).resolves.toBe('lazy');
  });

  it('gives a nested run the enclosing correlation id and user', async () => {
    const { logger, store } = make();
    await logger.run({ correlationId: 'corr-9', user: 'u1' }, () => logger.run({ module: 'child' }, async () => {}));
    await logger.flush();
    const child = store.requests().find((d) => d.module === 'child')!;
    expect(child.correlation_id).toBe('corr-9');
    expect(child.details.run!.user_details!._id).toBe('u1');
  });

  it('rejects invalid run options by name', async () => {
    const { logger } = make();
    await expect(logger.run({ requestUuid: 'has space' }, async () => {})).rejects.toThrow(ActionLogValidationError);
    await expect(logger.run({ metadata: 'x' } as never, async () => {})).rejects.toThrow(/metadata/);
  });
});

describe('recording outside any scope', () => {
  it('makes each change its own document by default', async () => {
    const { logger, store } = make();
    logger.recordModelChange(change('o1'));
    logger.recordModelChange(change('o2'));
    await logger.flush();
    const docs = store.requests();
    expect(docs.map((d) => [d.module, d.details.request, d.details.model_logs.map((m) => m.model_id)])).toEqual([
      ['app', null, ['o1']],
      ['app', null, ['o2']],
    ]);
  });

  it('ignores them with outsideContext: ignore', async () => {
    const { logger, store } = make({ outsideContext: 'ignore' });
    logger.recordModelChange(change('o1'));
    await logger.flush();
    expect(store.requests()).toEqual([]);
  });

  it('rejects a malformed model change, naming each field', () => {
    const { logger } = make();
    const bad = { ...change('x'), action: 'Touched', model: '', old_object: [1] } as unknown as ModelChange;
    let caught: unknown;
    try {
      logger.recordModelChange(bad);
    } catch (error) {
      caught = error;
    }
    expect((caught as ActionLogValidationError).issues.map((i) => i.path)).toEqual(['action', 'model', 'old_object']);
    // Each optional field too, at the call: left to the build, one of them cost the whole document.
    const optional = {
      ...change('y'),
      omit: 'secret',
      query: { filter: {} },
      truncated: 'yes',
    } as unknown as ModelChange;
    expect(() => {
      logger.recordModelChange({ ...change('z'), timestamp: new Date(8.64e15) });
    }).toThrow(/timestamp: must be between the years 0000 and 9999/);
    const user = { lookup_from: 'users', _id: 'u1', label: 'Ada' };
    expect(() => logger.activity({ action: 'Signed in', user, activity_date: new Date(8.64e15) })).toThrow(
      /activity_date: must be between the years 0000 and 9999/,
    );
    expect(() => logger.activity({ action: 'Signed in', user, activity_date: new Date(Number.NaN) })).toThrow(
      /activity_date: must be a Date/,
    );
    expect(() => {
      logger.recordModelChange(optional);
    }).toThrow(/omit: must be an array of strings.*query: must be an object.*truncated: must be a boolean/s);
  });
});

describe('model logs', () => {
  it('diffs nested paths and arrays, and omits fields from objects and changed fields', async () => {
    const { logger, store } = make();
    logger.recordModelChange(
      change('o1', {
        old_object: {
          _id: 'o1',
          address: { city: 'Oslo', zip: '1' },
          items: [{ qty: 1 }, { qty: 2 }],
          internal: { score: 1 },
          at: new Date(1),
        },
        new_object: {
          _id: 'o1',
          address: { city: 'Bergen', zip: '1' },
          items: [{ qty: 1 }, { qty: 3 }, { qty: 1 }],
          internal: { score: 2 },
          at: new Date(2),
        },
        omit: ['internal'],
      }),
    );
    await logger.flush();
    const log = store.requests()[0]!.details.model_logs[0]!;
    expect(log.model_details.changed_fields).toEqual(['address.city', 'items.1.qty', 'items.2', 'at']);
    expect(log.model_details.old_object).not.toHaveProperty('internal');
    expect(log.model_details.new_object).not.toHaveProperty('internal');
  });

  it('stores no model log for an update that changed only omitted fields', async () => {
    const { logger, store } = make();
    logger.recordModelChange(
      change('o1', { old_object: { _id: 'o1', pin: 1, total: 1 }, new_object: { _id: 'o1', pin: 2, total: 1 }, omit: ['pin'] }),
    );
    logger.recordModelChange(
      change('o2', { old_object: { _id: 'o2', pin: 1, total: 1 }, new_object: { _id: 'o2', pin: 2, total: 2 }, omit: ['pin'] }),
    );
    await logger.flush();
    expect(store.requests().flatMap((d) => d.details.model_logs.map((l) => [l.model_id, l.model_details.changed_fields]))).toEqual([
      ['o2', ['total']],
    ]);
  });

  it('stamps each change with the time it was recorded, not the time its document is built', async () => {
    const { logger, store } = make({ flushIntervalMs: 1000 });
    const uuid = 'stamped';
    let recordedAt = 0;
    await logger.run({ requestUuid: uuid }, async () => {
      logger.recordModelChange(change('o1'));
      recordedAt = Date.now();
      await sleep(30);
      logger.recordModelChange(change('o2', { timestamp: new Date(5) }));
    });
    await sleep(30);
    await logger.flush();
    const [first, second] = store.requests().find((d) => d.request_uuid === uuid)!.details.model_logs;
    expect(first!.timestamp.getTime()).toBeLessThanOrEqual(recordedAt);
    expect(second!.timestamp).toEqual(new Date(5));
  });

  it('redacts secret fields of records but still reports that they changed', async () => {
    const { logger, store } = make();
    logger.recordModelChange(change('u1', { old_object: { passwordHash: 'a' }, new_object: { passwordHash: 'b' } }));
    await logger.flush();
    const log = store.requests()[0]!.details.model_logs[0]!;
    expect(log.model_details.new_object).toEqual({ passwordHash: '[REDACTED]' });
    expect(log.model_details.changed_fields).toEqual(['passwordHash']);
  });

  it('spills model logs past maxModelLogsPerRequest into model_logs (the mirror off) and says how many', async () => {
    const { logger, store } = make({ maxModelLogsPerRequest: 3, modelLogs: false });
    await logger.run({}, async () => {
      for (let i = 0; i < 5; i++) logger.recordModelChange(change(`o${i}`));
    });
    await logger.flush();
    const [doc] = store.requests();
    expect(doc!.details.model_logs.map((m) => m.model_id)).toEqual(['o0', 'o1', 'o2']);
    expect(doc!.details.model_logs_spilled).toBe(2);
    expect(store.modelLogs().map((m) => [m.model_id, m.request_uuid])).toEqual([
      ['o3', doc!.request_uuid],
      ['o4', doc!.request_uuid],
    ]);
  });

  it('spills before the document outgrows maxDocumentBytes', async () => {
    const { logger, store } = make({ maxDocumentBytes: 64 * 1024, modelLogs: false });
    const big = 'x'.repeat(7000);
    await logger.run({}, async () => {
      for (let i = 0; i < 20; i++) logger.recordModelChange(change(`o${i}`, { new_object: { big } }));
    });
    await logger.flush();
    const [doc] = store.requests();
    expect(JSON.stringify(doc).length).toBeLessThanOrEqual(64 * 1024);
    expect(doc!.details.model_logs.length + doc!.details.model_logs_spilled!).toBe(20);
    expect(store.modelLogs()).toHaveLength(doc!.details.model_logs_spilled!);
  });

  it('writes every model log to the model_logs mirror when enabled', async () => {
    const { logger, store } = make({ modelLogs: true, actionLogs: false });
    await logger.run({}, async () => {
      logger.recordModelChange(change('o1'));
      logger.record({ action: 'x' });
    });
    await logger.flush();
    expect(store.modelLogs().map((m) => m.model_id)).toEqual(['o1']);
    expect(store.actions()).toEqual([]);
  });
});

describe('late events', () => {
  it('appends events recorded after the document was written to that same document', async () => {
    const { logger, store } = make();
    let resume!: () => void;
    const gate = new Promise<void>((resolve) => (resume = resolve));
    let background!: Promise<void>;
    await logger.run({ requestUuid: 'r-late' }, async () => {
      logger.recordModelChange(change('o1'));
      background = (async () => {
        await gate;
        logger.recordModelChange(change('o2'));
        logger.record({ action: 'after' });
      })();
    });
    await logger.flush();
    expect(store.requests()[0]!.details.model_logs).toHaveLength(1);
    // Another scope in between must not catch them.
    await logger.run({ requestUuid: 'r-other' }, async () => {
      logger.recordModelChange(change('x'));
    });
    resume();
    await background;
    await logger.flush();
    const byId = new Map(store.requests().map((d) => [d.request_uuid, d]));
    expect(byId.get('r-late')!.details.model_logs.map((m) => m.model_id)).toEqual(['o1', 'o2']);
    expect(byId.get('r-late')!.details.actions.map((a) => a.action_type)).toEqual(['after']);
    expect(byId.get('r-other')!.details.model_logs.map((m) => m.model_id)).toEqual(['x']);
  });

  it('holds late events to what the document already holds: past maxModelLogsPerRequest they spill', async () => {
    const { logger, store } = make({ maxModelLogsPerRequest: 2, modelLogs: false });
    let ctx!: ReturnType<ActionLogger['current']>;
    await logger.run({ requestUuid: 'r-full' }, async () => {
      ctx = logger.current();
      logger.recordModelChange(change('o1'));
    });
    await logger.flush();
    for (const id of ['o2', 'o3', 'o4']) logger.recordModelChange(change(id), ctx);
    await logger.flush();
    const [doc] = store.requests();
    expect(doc!.details.model_logs.map((m) => m.model_id)).toEqual(['o1', 'o2']);
    expect(doc!.details.model_logs_spilled).toBe(2);
    expect(store.modelLogs().map((m) => [m.model_id, m.request_uuid])).toEqual([
      ['o3', 'r-full'],
      ['o4', 'r-full'],
    ]);
  });

  it('keeps events recorded while the document waits in the queue in the document itself', async () => {
    const { logger, store } = make({ flushIntervalMs: 50 });
    let ctx!: ReturnType<ActionLogger['current']>;
    await logger.run({}, async () => {
      ctx = logger.current();
    });
    logger.recordModelChange(change('queued'), ctx);
    await logger.flush();
    expect(store.requests()[0]!.details.model_logs.map((m) => m.model_id)).toEqual(['queued']);
  });
});

describe('flush, close and stats', () => {
  it('flush resolves only when everything recorded before it is stored', async () => {
    const { logger, store } = make({ flushIntervalMs: 10_000, batchSize: 1000 });
    for (let i = 0; i < 50; i++) logger.recordModelChange(change(`o${i}`));
    expect(store.requests()).toHaveLength(0);
    await logger.flush();
    expect(store.requests()).toHaveLength(50);
    expect(logger.stats()).toMatchObject({ recorded: 50, stored: 50, dropped: 0, queued: 0 });
  });

  it('drops only the document whose build fails, reported by its request id, and stores the rest of its batch', async () => {
    const errors: Error[] = [];
    const { logger, store } = make({ flushIntervalMs: 10_000, batchSize: 1000, onError: (e) => errors.push(e) });
    faultInBuild(logger, 'r2', () => {
      throw new Error('build fault');
    });
    await recordFive(logger);
    await logger.flush();
    expect(storedIds(store)).toEqual(['r0', 'r1', 'r3', 'r4']);
    expect(logger.stats()).toMatchObject({ recorded: 5, stored: 4, dropped: 1, queued: 0 });
    expect(errors.map((e) => [e.message, (e.cause as Error).message])).toEqual([
      ['Could not build the document of request r2; it is dropped', 'build fault'],
    ]);
  });

  it('with integrity on, drops only the document that cannot be hashed, and leaves no gap in the chain', async () => {
    const errors: Error[] = [];
    const key = { hmac: 'a-long-enough-hmac-secret' };
    const { logger, store } = make({ flushIntervalMs: 10_000, batchSize: 1000, onError: (e) => errors.push(e), integrity: { key } });
    // A cycle, which no hash can take.
    faultInBuild(logger, 'r2', (doc) => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      Object.assign(doc, { extra: cyclic });
    });
    await recordFive(logger);
    await logger.close();
    expect(storedIds(store)).toEqual(['r0', 'r1', 'r3', 'r4']);
    expect(errors.map((e) => e.message)).toEqual(['Could not build the document of request r2; it is dropped']);
    const report = await createActionLogger({ store, integrity: { key } }).verify();
    expect({ status: report.status, findings: report.findings }).toEqual({ status: 'intact', findings: [] });
  });

  it('reports, rethrows and stores the run of a thrown value that cannot be made a string, and one whose message is not a string', async () => {
    const errors: Error[] = [];
    const { logger, store } = make({ onError: (e) => errors.push(e), limits: { maxStringLength: 100 } });
    const bare = Object.create(null) as object;
    const throwBare = () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- what an application may throw is the point
      throw bare;
    };
    await expect(logger.run({ requestUuid: 'bare' }, throwBare)).rejects.toBe(bare);
    const cyclic: Record<string, unknown> = { detail: 'x' };
    cyclic.self = cyclic;
    const odd = Object.assign(new Error('boom'), { message: cyclic });
    await expect(logger.run({ requestUuid: 'odd' }, () => Promise.reject(odd))).rejects.toBe(odd);
    await expect(logger.run({ requestUuid: 'long' }, () => Promise.reject(new Error('x'.repeat(10_000))))).rejects.toThrow();
    // An Error whose message is a getter that throws.
    const getter = Object.defineProperty(new Error('x'), 'message', {
      get() {
        throw new Error('no message');
      },
    });
    await expect(logger.run({ requestUuid: 'getter' }, () => Promise.reject(getter))).rejects.toBe(getter);
    // A thrown value handed to report() (as adapters do) is told of, not thrown again.
    logger.report(bare);
    await logger.flush();
    const runs = Object.fromEntries(store.requests().map((d) => [d.request_uuid, d.details.run?.error]));
    expect(runs).toEqual({
      bare: { name: 'Error', message: '[object Object]' },
      odd: { name: 'Error', message: '[object Object]' },
      long: { name: 'Error', message: expect.stringMatching(/^x{100}/) as string },
      getter: { name: 'Error', message: '[message could not be read: Error: no message]' },
    });
    expect(runs.long!.message.length).toBeLessThan(200);
    expect(errors.map((e) => e.message)).toEqual(['[object Object]']);
  });

  it('close drains, then refuses new work with a clear error', async () => {
    const { logger, store } = make({ flushIntervalMs: 10_000 });
    logger.recordModelChange(change('o1'));
    await logger.close();
    expect(store.requests()).toHaveLength(1);
    expect(() => {
      logger.recordModelChange(change('o2'));
    }).toThrow(ActionLogClosedError);
    expect(() => logger.record({ action: 'x' })).toThrow(/closed/);
  });

  it('close ends every tail of the logger, whether it was given a signal or not', async () => {
    const { logger } = make();
    const follow = async (signal?: AbortSignal) => {
      const seen: string[] = [];
      for await (const { entry } of logger.tail({ kind: 'actions' }, { pollMs: 20, ...(signal ? { signal } : {}) })) {
        seen.push(entry.action_type);
      }
      return seen;
    };
    const tails = [follow(), follow(new AbortController().signal)];
    await sleep(50);
    await logger.run({}, () => logger.record({ action: 'seen' }));
    await logger.flush();
    await sleep(50);
    await logger.close();
    // Before, both kept polling the closed store, their timers holding the process open.
    const ended = await Promise.race([Promise.all(tails), sleep(5000).then(() => 'still polling')]);
    expect(ended).toEqual([['seen'], ['seen']]);
    // A tail asked for after close ends at once, as every tail then does.
    expect(await follow()).toEqual([]);
  });

  it('reports a run that ends after close without failing the run', async () => {
    const errors: Error[] = [];
    const { logger } = make({ onError: (e) => errors.push(e) });
    const running = logger.run({}, async () => {
      await sleep(20);
      return 1;
    });
    await logger.close();
    await expect(running).resolves.toBe(1);
    expect(errors.some((e) => e instanceof ActionLogClosedError)).toBe(true);
  });
});
