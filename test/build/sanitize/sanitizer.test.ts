import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_KEYS, REDACTED } from 'actionlog';
import { escapeKey, unescapeKey, unescapeKeys } from 'actionlog/adapter-kit';
import { KeyRedactor } from '../../../src/build/sanitize/redactor.js';
import { Sanitizer } from '../../../src/build/sanitize/sanitizer.js';

const limits = { maxBodyBytes: 64 * 1024, maxStringLength: 8 * 1024, maxDepth: 20, maxArrayLength: 1000, maxKeys: 1000 };
const sanitizer = new Sanitizer(new KeyRedactor(DEFAULT_REDACT_KEYS, DEFAULT_REDACT_HEADERS), limits);

describe('key escaping', () => {
  it.each([
    ['$where', '%24where'],
    ['a.b.c', 'a%2Eb%2Ec'],
    ['100%', '100%25'],
    ['%2E', '%252E'],
    ['$a.b%', '%24a%2Eb%25'],
    ['__proto__', '%5F_proto__'],
    ['plain', 'plain'],
    ['mid$dle', 'mid$dle'],
  ])('escapes %s as %s and back', (key, escaped) => {
    expect(escapeKey(key)).toBe(escaped);
    expect(unescapeKey(escaped)).toBe(key);
  });

  it('round-trips any key', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        const escaped = escapeKey(key);
        expect(escaped.startsWith('$')).toBe(false);
        expect(escaped.includes('.')).toBe(false);
        expect(unescapeKey(escaped)).toBe(key);
      }),
      { numRuns: 2000 },
    );
  });

  it('restores __proto__ as an own property without touching prototypes', () => {
    const restored = unescapeKeys(sanitizer.clean(JSON.parse('{"__proto__": {"polluted": true}}'))) as Record<string, unknown>;
    expect(Object.getOwnPropertyNames(restored)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(restored)).toBe(Object.prototype);
  });
});

describe('redaction', () => {
  const redactor = new KeyRedactor(DEFAULT_REDACT_KEYS, DEFAULT_REDACT_HEADERS);
  it.each([
    'password',
    'PASSWORD',
    'userPassword',
    'passwd',
    'client_secret',
    'X-Secret',
    'accessToken',
    'refresh_token',
    'api_key',
    'apiKey',
    'X-API-KEY',
    'creditCard',
    'credit_card',
    'card_number',
    'CardNumber',
    'cvv',
    'CVV',
    'ssn',
    'user_ssn',
    'userSSN',
    'ssnLast4',
  ])('treats %s as secret', (key) => {
    expect(redactor.isSecretKey(key)).toBe(true);
  });
  it.each(['className', 'session_count', 'lesson', 'username', 'email', 'address', 'tokyo'])('keeps %s', (key) => {
    expect(redactor.isSecretKey(key)).toBe(false);
  });
  it.each(['Authorization', 'proxy-authorization', 'Cookie', 'set-cookie', 'X-Api-Key', 'x-auth-token'])('redacts header %s', (name) => {
    expect(redactor.isSecretHeader(name)).toBe(true);
  });
});

describe('Sanitizer', () => {
  it('makes exotic values plain', () => {
    // Stand-ins shaped like the bson classes: instances with a _bsontype tag.
    class ObjectId {
      readonly _bsontype = 'ObjectId';
      toHexString() {
        return '65f0c0ffee0000000000abcd';
      }
    }
    class Decimal128 {
      readonly _bsontype = 'Decimal128';
      toString() {
        return '12.50';
      }
    }
    const objectId = new ObjectId();
    const decimal = new Decimal128();
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const out = sanitizer.clean({
      big: 2n ** 80n,
      small: 42n,
      buf: Buffer.from('hi'),
      date: new Date('2026-01-01T00:00:00Z'),
      badDate: new Date('nope'),
      id: objectId,
      price: decimal,
      circular,
      fn: () => 1,
      sym: Symbol('s'),
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      map: new Map([['k', 1]]),
      set: new Set([1, 2]),
      err: Object.assign(new Error('bad'), { code: 'E1' }),
      re: /x+/g,
      undef: undefined,
      arr: [undefined, 1],
    });
    expect(out).toEqual({
      big: '1208925819614629174706176',
      small: 42,
      buf: 'aGk=',
      date: new Date('2026-01-01T00:00:00Z'),
      badDate: null,
      id: '65f0c0ffee0000000000abcd',
      price: '12.50',
      circular: { name: 'loop', self: '[Circular]' },
      sym: 'Symbol(s)',
      nan: 'NaN',
      inf: 'Infinity',
      map: { k: 1 },
      set: [1, 2],
      err: { name: 'Error', message: 'bad', code: 'E1' },
      re: '/x+/g',
      arr: [null, 1],
    });
  });

  it('copies a value shared twice, and marks only true cycles', () => {
    const shared = { a: 1 };
    expect(sanitizer.clean({ x: shared, y: shared })).toEqual({ x: { a: 1 }, y: { a: 1 } });
  });

  it('uses toJSON of class instances once, and survives a toJSON that throws', () => {
    class Doc {
      toJSON() {
        return { plain: true };
      }
    }
    class Broken {
      field = 1;
      toJSON(): never {
        throw new Error('no');
      }
    }
    expect(sanitizer.clean({ doc: new Doc(), broken: new Broken() })).toEqual({ doc: { plain: true }, broken: { field: 1 } });
  });

  it('truncates long strings, long arrays and deep nesting with markers', () => {
    const small = new Sanitizer(sanitizer.redactor, { ...limits, maxStringLength: 10, maxArrayLength: 3, maxDepth: 3 });
    expect(small.clean('abcdefghijklmnop')).toBe('abcdefghij…[truncated 6 chars]');
    expect(small.clean([1, 2, 3, 4, 5])).toEqual([1, 2, 3, '[truncated 2 items]']);
    expect(small.clean({ a: { b: { c: { d: 1 } } } })).toEqual({ a: { b: { c: '[Truncated: max depth]' } } });
  });

  it('replaces a body over the limit by a marker with a preview', () => {
    const small = new Sanitizer(sanitizer.redactor, { ...limits, maxBodyBytes: 100 });
    const body = small.cleanBody({ rows: Array.from({ length: 50 }, (_, i) => ({ i })) }).value as Record<string, unknown>;
    expect(body._truncated).toBe(true);
    expect(body._size_bytes).toBeGreaterThan(100);
    expect(String(body._preview)).toMatch(/^\{"rows":\[\{"i":0\}/);
    expect(small.cleanBody('y'.repeat(150)).value).toMatch(/^y{100}…\[truncated 50 chars\]$/);
  });

  it('leaves out omitted dotted paths', () => {
    expect(sanitizer.clean({ a: 1, profile: { pin: 1, name: 'x' }, list: [{ note: 2 }] }, new Set(['profile.pin', 'a']))).toEqual({
      profile: { name: 'x' },
      list: [{ note: 2 }],
    });
  });
});

/** Arbitrary values, including the exotic ones an app may hand to the logger. */
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: false }),
    fc.uint8Array().map((a) => Buffer.from(a)),
    fc.string().map((s) => Symbol(s)),
    fc.constant(() => 1),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.oneof(fc.string(), fc.constantFrom(...DEFAULT_REDACT_KEYS, '__proto__', 'constructor', '$set', 'a.b', 'Password', 'X-API-KEY')),
      tie('value'),
      {
        maxKeys: 6,
      },
    ),
  ),
}));

/** A secret value planted under a secret key somewhere in a random structure. */
const SECRET = 'SECRET-VALUE-7f3a';
const withSecret = fc
  .tuple(
    // Each default rule as a key it matches (`api key` → `api_key`, `auth$` → `auth`); query-only rules left out.
    fc.constantFrom(
      ...DEFAULT_REDACT_KEYS.filter((rule) => !rule.startsWith('?')).map((rule) => rule.replace(/^[=^]|\$$/g, '').replace(/ /g, '_')),
      'PASSWORD',
      'userPassword',
      'x-api-key',
      'Credit-Card',
      'refreshToken',
    ),
    anyValue.value,
    fc.array(fc.constantFrom('a', 'items', '0'), { maxLength: 6 }),
  )
  .map(([key, filler, path]) => {
    let value: unknown = { [key]: SECRET, other: filler };
    for (const segment of path.reverse()) value = segment === '0' ? [value] : { [segment]: value };
    return value;
  });

describe('Sanitizer properties', () => {
  it('never throws and always returns JSON-serializable output', () => {
    fc.assert(
      fc.property(anyValue.value, (value) => {
        const out = sanitizer.clean(value);
        expect(() => JSON.stringify(out)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('never lets a redacted value through', () => {
    fc.assert(
      fc.property(withSecret, (value) => {
        const out = JSON.stringify(sanitizer.clean(value));
        expect(out).not.toContain(SECRET);
        expect(out).toContain(REDACTED);
      }),
      { numRuns: 3000 },
    );
  });

  it('stores no key MongoDB cannot take, and reads every key back unchanged', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 3 }), { maxKeys: 6 }), (value) => {
        const nonSecret = Object.fromEntries(Object.entries(value).filter(([k]) => !sanitizer.redactor.isSecretKey(k)));
        const stored = sanitizer.clean(nonSecret) as Record<string, Record<string, number>>;
        const keys = Object.keys(stored).concat(...Object.values(stored).map((v) => Object.keys(v)));
        for (const key of keys) {
          expect(key.startsWith('$')).toBe(false);
          expect(key.includes('.')).toBe(false);
        }
        const back = unescapeKeys<Record<string, Record<string, number>>>(stored);
        expect(Object.keys(back).sort()).toEqual(Object.keys(nonSecret).sort());
      }),
      { numRuns: 2000 },
    );
  });
});

describe('Sanitizer on hostile values', () => {
  it('replaces U+0000 and unpaired surrogates in values and keys, which no store keeps', () => {
    expect(sanitizer.clean({ 'a\u0000b': 'x\u0000y', lone: 'a\ud800b', pair: '😀', tail: '\udc00' })).toEqual({
      'a\uFFFDb': 'x\uFFFDy',
      lone: 'a\uFFFDb',
      pair: '😀',
      tail: '\uFFFD',
    });
  });

  it('keeps at most maxKeys keys of an object and says how many it left out', () => {
    const small = new Sanitizer(sanitizer.redactor, { ...limits, maxKeys: 3 });
    expect(small.clean({ a: 1, b: 2, c: 3, d: 4, e: 5 })).toEqual({ a: 1, b: 2, c: 3, '[truncated]': '[2 more keys]' });
    expect(
      small.clean(
        new Map([
          ['a', 1],
          ['b', 2],
          ['c', 3],
          ['d', 4],
        ]),
      ),
    ).toEqual({ a: 1, b: 2, c: 3, '[truncated]': '[1 more keys]' });
  });

  it('keeps a flag or a null under a secret key, which says nothing secret', () => {
    expect(sanitizer.clean({ password: null, token_set: true, apiKey: false, password_hint: 'x' })).toEqual({
      password: null,
      token_set: true,
      apiKey: false,
      password_hint: REDACTED,
    });
  });

  it('encodes no more binary data than the string limit keeps', () => {
    const small = new Sanitizer(sanitizer.redactor, { ...limits, maxStringLength: 16 });
    expect(small.clean(Buffer.alloc(1_000_000))).toBe('AAAAAAAAAAAAAAAA…[truncated 999988 bytes]');
  });

  it('does not walk a body far past its limit by its own content-length, and previews one just past it', () => {
    const huge = sanitizer.cleanBody({ a: 1 }, 'application/json', 10 * 64 * 1024);
    expect(huge.value).toEqual({ _truncated: true, _size_bytes: 10 * 64 * 1024, _preview: '' });
    const body = Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`k${i}`, 'x'.repeat(100)]));
    const over = sanitizer.cleanBody(body, 'application/json', 100_000).value as {
      _truncated: boolean;
      _preview: string;
      _size_bytes: number;
    };
    expect(over._truncated).toBe(true);
    expect(over._size_bytes).toBe(100_000);
    expect(over._preview.startsWith('{"k0":"xxxx')).toBe(true);
  });

  it('treats a text body by what it holds: a form, JSON, or text with credentials in it', () => {
    expect(sanitizer.cleanBody('user=ada&password=hunter2&code=123', 'application/x-www-form-urlencoded').value).toBe(
      `user=ada&password=${REDACTED}&code=${REDACTED}`,
    );
    expect(sanitizer.cleanBody('{"otp":"123456","user":"ada"}', 'text/plain').value).toEqual({ otp: REDACTED, user: 'ada' });
    expect(sanitizer.cleanBody('Authorization: Bearer abcdefghijklmnop', 'text/plain').value).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(sanitizer.cleanBody('just words', 'text/plain').value).toBe('just words');
  });

  it('redacts credentials after a scheme in any header, and secret header names whole', () => {
    const { value } = sanitizer.cleanHeaders({
      'x-upstream': 'Basic dXNlcjpwYXNzd29yZA==',
      'x-forwarded-authorization': 'anything',
      accept: 'text/html',
    });
    expect(value).toEqual({ 'x-upstream': `Basic ${REDACTED}`, 'x-forwarded-authorization': REDACTED, accept: 'text/html' });
  });
});
