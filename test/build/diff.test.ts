import { Decimal128, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { diffObjects, isOmittedPath, sameValue } from '../../src/build/diff.js';

/** An ObjectId of another copy of the bson package: the same `_bsontype` and string form, another class. */
class ForeignObjectId {
  readonly _bsontype = 'ObjectId';
  constructor(private readonly hex: string) {}
  toString(): string {
    return this.hex;
  }
}

const HEX = '65a1b2c3d4e5f60718293a4b';
const OTHER_HEX = '65a1b2c3d4e5f60718293a4c';

function bare(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, fields);
}

describe('diffObjects', () => {
  describe('on plain and nested objects', () => {
    it('finds nothing between equal objects', () => {
      expect(diffObjects({ a: 1, b: 'x', c: { d: true } }, { a: 1, b: 'x', c: { d: true } })).toEqual([]);
    });

    it('names a changed top-level field', () => {
      expect(diffObjects({ status: 'new', total: 5 }, { status: 'paid', total: 5 })).toEqual(['status']);
    });

    it('names a changed nested field by its dotted path, not its parent', () => {
      const before = { address: { city: 'Paris', zip: '75001', geo: { lat: 1, lng: 2 } } };
      const after = { address: { city: 'Lyon', zip: '75001', geo: { lat: 1, lng: 3 } } };
      expect(diffObjects(before, after)).toEqual(['address.city', 'address.geo.lng']);
    });

    it('names a field that changed type between a value and an object', () => {
      expect(diffObjects({ a: 1, b: { c: 1 } }, { a: { c: 1 }, b: 2 })).toEqual(['a', 'b']);
    });

    it('lists fields of the old side first, then those only on the new side', () => {
      expect(diffObjects({ a: 1, gone: 2 }, { a: 2, added: 3 })).toEqual(['a', 'gone', 'added']);
    });

    it('names a key only on the old side', () => {
      expect(diffObjects({ a: 1, b: { c: 1 } }, { a: 1 })).toEqual(['b']);
    });

    it('names a key only on the new side, however deep', () => {
      expect(diffObjects({ a: { b: 1 } }, { a: { b: 1, c: { d: 1 } } })).toEqual(['a.c']);
    });

    it('compares prototype-less objects member by member, like plain ones', () => {
      expect(diffObjects(bare({ a: bare({ x: 1, y: 2 }) }), bare({ a: bare({ x: 1, y: 3 }) }))).toEqual(['a.y']);
      expect(diffObjects({ a: bare({ x: 1 }) }, { a: { x: 1 } })).toEqual([]);
      expect(diffObjects({ a: bare({ x: 1 }) }, { a: { x: 2 } })).toEqual(['a.x']);
    });

    it('ignores members that are not enumerable', () => {
      const before = { a: 1 };
      Object.defineProperty(before, 'hidden', { value: 1, enumerable: false });
      expect(diffObjects(before, { a: 1 })).toEqual([]);
    });
  });

  describe('on arrays', () => {
    it('names a changed element by its index', () => {
      expect(diffObjects({ tags: ['a', 'b', 'c'] }, { tags: ['a', 'x', 'c'] })).toEqual(['tags.1']);
    });

    it('names a changed field of an element by its dotted path', () => {
      const before = {
        items: [
          { sku: 'a', qty: 1 },
          { sku: 'b', qty: 1 },
          { sku: 'c', qty: 1 },
        ],
      };
      const after = {
        items: [
          { sku: 'a', qty: 1 },
          { sku: 'b', qty: 1 },
          { sku: 'c', qty: 4 },
        ],
      };
      expect(diffObjects(before, after)).toEqual(['items.2.qty']);
    });

    it('names every new index when an array grows', () => {
      expect(diffObjects({ tags: ['a'] }, { tags: ['a', 'b', 'c'] })).toEqual(['tags.1', 'tags.2']);
    });

    it('names every removed index when an array shrinks', () => {
      expect(diffObjects({ tags: ['a', 'b', 'c'] }, { tags: ['a'] })).toEqual(['tags.1', 'tags.2']);
    });

    it('names every index that moved when an element is removed from the front', () => {
      expect(diffObjects({ tags: ['a', 'b', 'c'] }, { tags: ['b', 'c'] })).toEqual(['tags.0', 'tags.1', 'tags.2']);
    });

    it('finds nothing between equal nested arrays', () => {
      expect(diffObjects({ m: [1, [2, [3, { x: [4] }]]] }, { m: [1, [2, [3, { x: [4] }]]] })).toEqual([]);
      expect(diffObjects({ m: [1, [2, [3, { x: [4] }]]] }, { m: [1, [2, [3, { x: [5] }]]] })).toEqual(['m.1.1.1.x.0']);
    });

    it('names an array that replaced a value, and a value that replaced an array', () => {
      expect(diffObjects({ a: 'x', b: [1] }, { a: ['x'], b: 1 })).toEqual(['a', 'b']);
    });
  });

  describe('on leaf values', () => {
    it('compares Dates by time, not by identity', () => {
      expect(diffObjects({ at: new Date('2024-01-01T00:00:00Z') }, { at: new Date('2024-01-01T00:00:00Z') })).toEqual([]);
      expect(diffObjects({ at: new Date('2024-01-01T00:00:00Z') }, { at: new Date('2024-01-01T00:00:00.001Z') })).toEqual(['at']);
    });

    it('tells a Date from its timestamp or its ISO string', () => {
      const at = new Date('2024-01-01T00:00:00Z');
      expect(diffObjects({ at }, { at: at.getTime() })).toEqual(['at']);
      expect(diffObjects({ at }, { at: at.toISOString() })).toEqual(['at']);
    });

    it('compares Buffers byte by byte', () => {
      expect(diffObjects({ b: Buffer.from('abc') }, { b: Buffer.from('abc') })).toEqual([]);
      expect(diffObjects({ b: Buffer.from('abc') }, { b: Buffer.from('abd') })).toEqual(['b']);
      expect(diffObjects({ b: Buffer.from('abc') }, { b: Buffer.from('abcd') })).toEqual(['b']);
    });

    it('compares typed arrays by their own bytes only, whatever the view over a larger buffer', () => {
      const wide = new Uint8Array([9, 1, 2, 3, 9]);
      expect(diffObjects({ b: wide.subarray(1, 4) }, { b: new Uint8Array([1, 2, 3]) })).toEqual([]);
      expect(diffObjects({ b: wide.subarray(1, 4) }, { b: new Uint8Array([1, 2, 4]) })).toEqual(['b']);
      expect(diffObjects({ b: Buffer.from([1, 2, 3]) }, { b: new Uint8Array([1, 2, 3]) })).toEqual([]);
    });

    it('does not descend into binary data', () => {
      expect(diffObjects({ b: new Uint8Array([1, 2, 3]) }, { b: new Uint8Array([1, 5, 3]) })).toEqual(['b']);
    });

    it('tells binary data from an array of the same numbers', () => {
      expect(diffObjects({ b: new Uint8Array([1, 2]) }, { b: [1, 2] })).toEqual(['b']);
    });

    it('compares BSON values by their string form, not by identity', () => {
      expect(diffObjects({ owner: new ObjectId(HEX) }, { owner: new ObjectId(HEX) })).toEqual([]);
      expect(diffObjects({ owner: new ObjectId(HEX) }, { owner: new ObjectId(OTHER_HEX) })).toEqual(['owner']);
      expect(diffObjects({ price: Decimal128.fromString('1.50') }, { price: Decimal128.fromString('1.50') })).toEqual([]);
      expect(diffObjects({ price: Decimal128.fromString('1.50') }, { price: Decimal128.fromString('1.5') })).toEqual(['price']);
    });

    it('compares BSON values of two copies of the bson package by type name and string form', () => {
      expect(diffObjects({ owner: new ObjectId(HEX) }, { owner: new ForeignObjectId(HEX) })).toEqual([]);
      expect(diffObjects({ owner: new ForeignObjectId(HEX) }, { owner: new ObjectId(OTHER_HEX) })).toEqual(['owner']);
    });

    it('tells a BSON value from its string form and from another BSON type with the same string form', () => {
      expect(diffObjects({ owner: new ObjectId(HEX) }, { owner: HEX })).toEqual(['owner']);
      expect(diffObjects({ owner: HEX }, { owner: new ObjectId(HEX) })).toEqual(['owner']);
      const decimal = Decimal128.fromString('12');
      const lookalike = { _bsontype: 'ObjectId', toString: () => '12' };
      expect(sameValue(decimal, lookalike)).toBe(false);
    });

    it('treats NaN as equal to NaN', () => {
      expect(diffObjects({ n: NaN, m: [NaN] }, { n: NaN, m: [NaN] })).toEqual([]);
      expect(diffObjects({ n: NaN }, { n: 0 })).toEqual(['n']);
    });

    it('tells values of different types apart', () => {
      expect(diffObjects({ a: 1, b: true, c: 0, d: '' }, { a: '1', b: 'true', c: false, d: null })).toEqual(['a', 'b', 'c', 'd']);
    });

    it('tells null from a missing member', () => {
      expect(diffObjects({ a: null }, {})).toEqual(['a']);
      expect(diffObjects({}, { a: null })).toEqual(['a']);
    });

    it('compares class instances as leaves, by their string form, without descending into them', () => {
      class Money {
        constructor(
          readonly amount: number,
          readonly currency: string,
        ) {}
        toString(): string {
          return `${this.amount} ${this.currency}`;
        }
      }
      expect(diffObjects({ price: new Money(5, 'EUR') }, { price: new Money(5, 'EUR') })).toEqual([]);
      expect(diffObjects({ price: new Money(5, 'EUR') }, { price: new Money(6, 'EUR') })).toEqual(['price']);
    });

    it('tells a class instance from a plain object with the same fields', () => {
      class Point {
        constructor(
          readonly x: number,
          readonly y: number,
        ) {}
      }
      expect(diffObjects({ p: new Point(1, 2) }, { p: { x: 1, y: 2 } })).toEqual(['p']);
      expect(diffObjects({ p: { x: 1, y: 2 } }, { p: new Point(1, 2) })).toEqual(['p']);
    });

    it('finds nothing when the very same instance is on both sides', () => {
      const shared = new Map([['a', 1]]);
      expect(diffObjects({ m: shared }, { m: shared })).toEqual([]);
    });
  });

  describe('with a null or missing side', () => {
    it('names every top-level key of the new object when the old one is null or undefined', () => {
      const created = { a: 1, b: { c: 1, d: [1, 2] }, e: null };
      expect(diffObjects(null, created)).toEqual(['a', 'b', 'e']);
      expect(diffObjects(undefined, created)).toEqual(['a', 'b', 'e']);
    });

    it('names every top-level key of the old object when the new one is null or undefined', () => {
      const deleted = { a: 1, b: { c: 1, d: [1, 2] }, e: null };
      expect(diffObjects(deleted, null)).toEqual(['a', 'b', 'e']);
      expect(diffObjects(deleted, undefined)).toEqual(['a', 'b', 'e']);
    });

    it('finds nothing when both sides are null', () => {
      expect(diffObjects(null, null)).toEqual([]);
      expect(diffObjects(null, {})).toEqual([]);
    });
  });
});

describe('sameValue', () => {
  it.each<[string, unknown, unknown]>([
    ['the same string', 'a', 'a'],
    ['the same number', 1, 1],
    ['NaN and NaN', NaN, NaN],
    ['null and null', null, null],
    ['undefined and undefined', undefined, undefined],
    ['Dates at the same time', new Date(5), new Date(5)],
    ['equal byte arrays', new Uint8Array([1, 2]), Buffer.from([1, 2])],
    ['equal plain objects', { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }],
    ['a plain and a prototype-less object with the same members', { a: 1 }, bare({ a: 1 })],
    ['equal arrays', [1, 'a', null], [1, 'a', null]],
    ['ObjectIds with the same hex', new ObjectId(HEX), new ObjectId(HEX)],
    ['BSON values of the same type and string form, whatever their class', new ObjectId(HEX), new ForeignObjectId(HEX)],
  ])('holds for %s', (_, a, b) => {
    expect(sameValue(a, b)).toBe(true);
  });

  it.each<[string, unknown, unknown]>([
    ['different strings', 'a', 'b'],
    ['a number and its string', 1, '1'],
    ['0 and false', 0, false],
    ['null and undefined', null, undefined],
    ['null and an empty object', null, {}],
    ['an empty object and undefined', {}, undefined],
    ['NaN and a number', NaN, 1],
    ['Dates at different times', new Date(5), new Date(6)],
    ['a Date and its time', new Date(5), 5],
    ['a Date and an object', new Date(5), {}],
    ['byte arrays that differ', new Uint8Array([1, 2]), new Uint8Array([1, 3])],
    ['a byte array and an array', new Uint8Array([1]), [1]],
    ['plain objects that differ deeply', { a: { b: [1] } }, { a: { b: [2] } }],
    ['an object with an extra key', { a: 1 }, { a: 1, b: 2 }],
    ['arrays of different lengths', [1], [1, 2]],
    ['ObjectIds with different hex', new ObjectId(HEX), new ObjectId(OTHER_HEX)],
    ['an ObjectId and its hex string', new ObjectId(HEX), HEX],
    ['an ObjectId and an object without a BSON type but the same string form', new ObjectId(HEX), { toString: () => HEX }],
  ])('fails for %s', (_, a, b) => {
    expect(sameValue(a, b)).toBe(false);
    expect(sameValue(b, a)).toBe(false);
  });
});

describe('isOmittedPath', () => {
  const omit = new Set(['password', 'address', 'profile.secret']);

  it('holds for an omitted path itself', () => {
    expect(isOmittedPath('password', omit)).toBe(true);
    expect(isOmittedPath('profile.secret', omit)).toBe(true);
  });

  it('holds for any path inside an omitted one', () => {
    expect(isOmittedPath('address.city', omit)).toBe(true);
    expect(isOmittedPath('address.geo.lat', omit)).toBe(true);
    expect(isOmittedPath('profile.secret.hint', omit)).toBe(true);
  });

  it('fails for a parent or a sibling of an omitted path', () => {
    expect(isOmittedPath('profile', omit)).toBe(false);
    expect(isOmittedPath('profile.name', omit)).toBe(false);
  });

  it('fails for a path that only starts with the same letters', () => {
    expect(isOmittedPath('passwordHint', omit)).toBe(false);
    expect(isOmittedPath('addresses.0', omit)).toBe(false);
    expect(isOmittedPath('profile.secretive', omit)).toBe(false);
  });

  it('fails for everything when nothing is omitted', () => {
    expect(isOmittedPath('a', new Set())).toBe(false);
    expect(isOmittedPath('a.b.c', new Set())).toBe(false);
  });
});

describe('diffObjects when a value changes between a list and an object', () => {
  it('reports the path once, without recursing forever', () => {
    expect(diffObjects({ tags: [] }, { tags: {} })).toEqual(['tags']);
    expect(diffObjects({ tags: ['a'] }, { tags: { x: 1 } })).toEqual(['tags']);
    expect(sameValue([], {})).toBe(false);
  });
});

describe('diffObjects on hostile states', () => {
  function deep(levels: number, leaf: unknown): Record<string, unknown> {
    let value: Record<string, unknown> = { leaf };
    for (let i = 0; i < levels; i++) value = { next: value };
    return value;
  }

  it('names a change 20 000 levels down by its path at the depth limit, without running out of stack', () => {
    const changed = diffObjects(deep(20_000, 1), deep(20_000, 2));
    expect(changed).toEqual([Array.from({ length: 20 }, () => 'next').join('.')]);
    expect(diffObjects(deep(20_000, 1), deep(20_000, 1))).toEqual([]);
    expect(diffObjects(deep(30, 1), deep(30, 2), 3)).toEqual(['next.next.next']);
  });

  it('compares states with reference cycles', () => {
    const a: Record<string, unknown> = { name: 'x' };
    a.self = a;
    const b: Record<string, unknown> = { name: 'x' };
    b.self = b;
    const c: Record<string, unknown> = { name: 'y' };
    c.self = c;
    expect(diffObjects(a, b)).toEqual([]);
    // `self` loops back into an object whose name changed: that subtree differs too.
    expect(diffObjects(a, c)).toEqual(['name', 'self']);
    expect(sameValue(a, b)).toBe(true);
    expect(sameValue(a, c)).toBe(false);
  });

  it('sees changes inside class instances, Maps and Sets', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    expect(diffObjects({ p: new Point(1) }, { p: new Point(2) })).toEqual(['p']);
    expect(diffObjects({ p: new Point(1) }, { p: new Point(1) })).toEqual([]);
    expect(diffObjects({ m: new Map([[1, 1]]) }, { m: new Map([[1, 2]]) })).toEqual(['m']);
    expect(diffObjects({ s: new Set([1]) }, { s: new Set([1, 2]) })).toEqual(['s']);
    expect(diffObjects({ s: new Set([1]) }, { s: new Set([1]) })).toEqual([]);
  });
});
