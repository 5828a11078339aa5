import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ActionInput, ActionLogValidationError, createActionLogger, SqlStore } from 'actionlog';
import { HttpCapture, type HttpRequestReader } from 'actionlog/adapter-kit';
import { actionLogEntities } from 'actionlog/typeorm';
import { orderChange } from '../examples/shared/orders.js';
import { openDatabase, SQL_KINDS } from './support/sql.js';

/*
 * Whatever a client or an application hands over, through the whole pipeline (HTTP capture, record(), model
 * changes, the writer) into SQLite and PostgreSQL: nothing lost, nothing thrown but validation errors, no key a
 * store cannot keep, no planted secret stored, no prototype touched. (How long the writer holds the event loop is
 * a matter for bench/, not for a timed test on a shared machine.)
 */

const RUNS = Number(process.env.ACTIONLOG_FUZZ_RUNS ?? 10_000);
const SEED = 20261129;
const PLANTED = 'PLANTED-SECRET-9f3e';

/** Keys of every kind: secret ones, ones MongoDB cannot store, prototype names, control characters. */
const hostileKey = fc.oneof(
  fc.constantFrom('password', 'apiKey', 'x-api-key', 'otpSeed', 'card_number', 'session', 'privateKey', 'auth.bearer', 'pin'),
  fc.constantFrom('$where', 'a.b', '__proto__', 'constructor', 'prototype', '%24x', '\u0000', 'k\u0000ey', '\ud800', '.'),
  fc.string({ maxLength: 12 }),
);
/** Values of every kind, with secrets planted under secret keys (and only there). */
const hostileValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 30 }),
    fc.constantFrom('a\u0000b', '\ud800', 'x\udc00y', '😀'),
    fc.double(),
    fc.integer(),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.date({ noInvalidDate: false }),
    fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 6 }).map((entries) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of entries) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    out.password = PLANTED;
    return out;
  }),
}));

const hostileCase = fc.record({
  body: hostileValue.object,
  headers: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), fc.string({ maxLength: 40 }), { maxKeys: 5 }),
  url: fc.webPath(),
  user: fc.oneof(
    hostileValue.value,
    fc.record({ lookup_from: fc.string(), _id: fc.string(), label: fc.string(), passwordHash: fc.constant(PLANTED) }),
  ),
  action: fc.record(
    { action: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('export')), note: fc.string(), context: hostileValue.object },
    { requiredKeys: [] },
  ),
  before: hostileValue.object,
  after: hostileValue.object,
});

/** A request as Node's server hands it over, and a response that closes when told. */
function exchange(c: { body: unknown; headers: Record<string, string>; url: string }) {
  const req = Object.assign(new EventEmitter(), {
    method: 'POST',
    url: c.url,
    headers: { ...c.headers, authorization: `Bearer ${PLANTED}`, 'x-request-id': 'fuzz' },
    socket: { remoteAddress: '127.0.0.1' },
    body: c.body,
  });
  const res = Object.assign(new EventEmitter(), { headersSent: true, statusCode: 200, writableFinished: true, setHeader: () => undefined });
  return { req: req as unknown as IncomingMessage & { body: unknown }, res: res as unknown as ServerResponse };
}

const reader: HttpRequestReader<IncomingMessage & { body: unknown }> = {
  raw: (req) => req,
  url: (req) => req.url ?? '/',
  ip: (req) => req.socket.remoteAddress,
  body: (req) => req.body,
  route: () => '/fuzz/:id',
  user: () => undefined,
};

/** Every key of a stored JSON value. */
function keysOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) keysOf(item, out);
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      out.push(key);
      keysOf(inner, out);
    }
  }
  return out;
}

describe.each(SQL_KINDS)('the pipeline under fuzzed input, into %s', (kind) => {
  it(`stores ${RUNS} hostile requests and records without losing or leaking anything`, async () => {
    const db = await openDatabase(kind, { entities: actionLogEntities(kind) });
    const errors: Error[] = [];
    const logger = createActionLogger({
      store: new SqlStore({ dataSource: db.dataSource }),
      onError: (e) => errors.push(e),
      describeUser: (u) => u as never,
    });
    const capture = new HttpCapture(logger, reader);
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).length;
    let refused = 0;

    fc.assert(
      fc.property(hostileCase, (c) => {
        const { req, res } = exchange(c);
        const scope = capture.open(req, res);
        if (!scope) throw new Error('no scope');
        capture.enter(scope, () => {
          scope.setUser(c.user);
          logger.recordModelChange(orderChange('fuzz', { old_object: c.before, new_object: c.after }));
          try {
            logger.record(c.action as ActionInput);
          } catch (error) {
            if (!(error instanceof ActionLogValidationError)) throw error;
            refused++;
          }
        });
        res.emit('close');
      }),
      { numRuns: RUNS, seed: SEED },
    );
    await logger.flush();

    expect(errors).toEqual([]);
    expect(logger.stats()).toMatchObject({ recorded: RUNS, stored: RUNS, dropped: 0, quarantined: 0, queued: 0 });
    expect(refused).toBeLessThan(RUNS);
    expect(Object.getOwnPropertyNames(Object.prototype)).toHaveLength(prototypeKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const rows = await db.dataSource.query<Array<{ details: unknown; text: string }>>(
      kind === 'postgres'
        ? 'SELECT details, details::text AS text FROM actionlog_requests'
        : 'SELECT details, details AS text FROM actionlog_requests',
    );
    expect(rows).toHaveLength(RUNS);
    const text = rows.map((r) => r.text).join('\n');
    expect(text).not.toContain(PLANTED);
    const keys = rows.flatMap((r) => keysOf(typeof r.details === 'string' ? (JSON.parse(r.details) as unknown) : r.details));
    expect(keys.filter((k) => k.startsWith('$') || k.includes('.') || k.includes('\u0000'))).toEqual([]);
    await logger.close();
    await db.drop();
  }, 600_000);
});
