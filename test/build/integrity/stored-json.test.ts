import { createHash } from 'node:crypto';
import { ObjectId } from 'bson';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, linkHash, storedForm } from '../../../src/build/integrity/canonical.js';
import { storedJson } from '../../../src/build/integrity/stored-json.js';
import { escapeKey } from '../../../src/build/sanitize/keys.js';

/*
 * The one-walk serializer against the definition of a link's hash: RFC 8785 (the `canonicalize` package) of the
 * stored form. Every stored trail was hashed that way, so the text must be the same byte for byte.
 */
const SEED = Number(process.env.PROPERTY_SEED ?? 20_261_130);

const reference = (value: unknown) => canonicalize(storedForm(value)) ?? 'null';
const referenceLinkHash = (entry: Record<string, unknown>, prev: string, omit: string[] = []) => {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) if (!['_id', 'integrity', ...omit].includes(key)) body[key] = value;
  return createHash('sha256')
    .update(reference(body) + prev)
    .digest('hex');
};

class Money {
  constructor(
    readonly amount: number,
    readonly currency: string,
  ) {}
  toJSON() {
    return `${this.amount} ${this.currency}`;
  }
}

// Text of every kind: any code point (astral ones as surrogate pairs), control characters, quotes and backslashes.
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\u007f', '\u2028', '\u00e9', '\ud83d\ude00', 'a', '/') }),
  fc.string(),
);
const key = fc.oneof(
  text,
  fc.constantFrom(
    'a.b',
    '$set',
    '%',
    '100%',
    '%2E',
    'a%2Eb',
    '__proto__',
    '1',
    '10',
    '9',
    '-1',
    'toJSON',
    '',
    'é',
    'Z',
    'z',
    '_bsontype',
    '%5Fbsontype',
  ),
  text.map(escapeKey),
);
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, 1e-7, 5e-324, Number.MAX_SAFE_INTEGER + 2, Number.MAX_VALUE, NaN, Infinity, -Infinity),
);
const leaf = fc.oneof(
  text,
  number,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 12 }).map((bytes) => new ObjectId(Buffer.concat([Buffer.from(bytes), Buffer.alloc(12)]).subarray(0, 12))),
  fc.tuple(number, text).map(([amount, currency]) => new Money(amount, currency)),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
);
const valueWith = (keys: fc.Arbitrary<string>) =>
  fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(keys, tie('value'), { maxKeys: 6 }),
    ),
  })).value;
const value = valueWith(key);
// What stores hold: no key `_bsontype` (an ObjectId's mark, which a plain object only fakes).
const storedValue = valueWith(key.filter((k) => k !== '_bsontype'));

describe('storedJson', () => {
  it('writes the text canonicalize writes of the stored form, for every value it takes', () => {
    fc.assert(
      fc.property(value, (v) => {
        const fast = storedJson(v);
        if (fast !== undefined) expect(fast).toBe(reference(v));
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 3000, seed: SEED },
    );
  });

  it('takes every value made of stored data: the general path is only for what a store does not hold', () => {
    fc.assert(
      fc.property(storedValue, (v) => {
        expect(storedJson(v)).toBeDefined();
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('hashes a link as the definition does, with the fields it leaves out', () => {
    const document = fc.record({
      _id: value,
      integrity: value,
      uid: fc.uuid(),
      is_active: fc.boolean(),
      timestamp: fc.date({ noInvalidDate: false }),
      expires_at: fc.date(),
      details: fc.dictionary(key, value, { maxKeys: 6 }),
    });
    fc.assert(
      fc.property(document, fc.stringMatching(/^[0-9a-f]{64}$/), fc.boolean(), (entry, prev, action) => {
        const omit = action ? ['is_active'] : [];
        expect(linkHash(entry, prev, { omit })).toBe(referenceLinkHash(entry, prev, omit));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('leaves a lone surrogate to canonicalize, which refuses it as before', () => {
    const broken = { note: 'a\ud800b' };
    expect(storedJson(broken)).toBeUndefined();
    expect(() => canonicalJson(broken)).toThrow('Lone surrogate is not allowed');
  });

  it('leaves functions to the general path: dropped in objects, null in arrays', () => {
    const withFunction = { a: 1, f: () => 1, list: [() => 2, 3] };
    expect(storedJson(withFunction)).toBeUndefined();
    expect(canonicalJson(withFunction)).toBe('{"a":1,"list":[null,3]}');
  });

  it('leaves a plain object marked as an ObjectId to the general path, which reads it as one', () => {
    const fake = { list: [{ _bsontype: 'ObjectId', toHexString: () => 'abc', other: 1 }], tag: { _bsontype: 'Other', a: 1 } };
    expect(storedJson(fake)).toBeUndefined();
    expect(canonicalJson(fake)).toBe('{"list":["abc"],"tag":{"_bsontype":"Other","a":1}}');
  });

  it('decodes escaped keys before sorting, the last of two alike winning as storedForm has it', () => {
    const doc = { 'a%2Eb': 1, b: { '%24set': true }, 'a.b': 2, 'c%2Ed': null, 'c.d': 3 };
    expect(storedJson(doc)).toBe('{"a.b":2,"b":{"$set":true},"c.d":3}');
    expect(storedJson(doc)).toBe(reference(doc));
  });

  it('writes objects of one list of keys alike whatever their values, however many lists it has met', () => {
    // The same keys in another order, lists that share a first key, and more lists than are kept.
    const docs: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 1500; i++) {
      docs.push({ b: i, a: { z: i % 3 === 0 ? null : 'x', y: [i] }, [`k${i % 40}`]: i });
      docs.push({ a: i, b: `${i}` });
      docs.push({ first: 1, [`other${i % 12}`]: { c: 1, b: 2, a: 3 } });
    }
    for (const doc of docs) expect(storedJson(doc)).toBe(reference(doc));
    const long = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${(i * 7) % 40}`, i]));
    expect(storedJson(long)).toBe(reference(long));
    expect(storedJson({ ...long, key3: null })).toBe(reference({ ...long, key3: null }));
  });

  it('writes an object met again in one run of calls (texts) from the text it wrote the first time, the same', () => {
    fc.assert(
      fc.property(storedValue, storedValue, (shared, other) => {
        const log = { model: 'orders', details: { value: shared, other } };
        const request = { uid: 'r', details: { model_logs: [log] } };
        const mirror = { uid: 'm', ...log };
        const texts = new Map<object, string>();
        expect(storedJson(request, ['_id', 'integrity'], texts)).toBe(reference(request));
        expect(texts.get(log.details)).toBe(reference(log.details));
        expect(storedJson(mirror, ['_id', 'integrity'], texts)).toBe(reference(mirror));
        // The top object is not kept: another call may leave other fields of it out.
        expect(texts.has(request)).toBe(false);
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});
