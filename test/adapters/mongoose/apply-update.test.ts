import { describe, expect, it } from 'vitest';
import { applyUpdate } from '../../../adapters/mongoose/apply-update.js';

type Doc = Record<string, unknown>;

function order(): Doc {
  return {
    _id: 'o1',
    status: 'new',
    total: 10,
    count: 2,
    tags: ['a'],
    address: { city: 'Paris', zip: '75001' },
    items: [{ sku: 'x', qty: 1 }],
    at: new Date('2024-01-01T00:00:00Z'),
  };
}

describe('applyUpdate', () => {
  describe('with a replacement', () => {
    it('returns the replacement with the document _id', () => {
      expect(applyUpdate(order(), { status: 'paid', total: 3 })).toEqual({ _id: 'o1', status: 'paid', total: 3 });
    });

    it('drops every field the replacement does not have', () => {
      const after = applyUpdate(order(), { note: 'x' })!;
      expect(Object.keys(after).sort()).toEqual(['_id', 'note']);
    });

    it('puts _id first', () => {
      expect(Object.keys(applyUpdate(order(), { b: 1, a: 2 })!)).toEqual(['_id', 'b', 'a']);
    });

    it('copies the replacement rather than sharing it', () => {
      const replacement = { address: { city: 'Lyon' } };
      const after = applyUpdate(order(), replacement)!;
      expect(after.address).toEqual({ city: 'Lyon' });
      expect(after.address).not.toBe(replacement.address);
    });
  });

  describe('with $set', () => {
    it('sets a top-level field', () => {
      expect(applyUpdate(order(), { $set: { status: 'paid' } })).toEqual({ ...order(), status: 'paid' });
    });

    it('sets a dotted path inside an embedded document, keeping its siblings', () => {
      expect(applyUpdate(order(), { $set: { 'address.city': 'Lyon' } })?.address).toEqual({ city: 'Lyon', zip: '75001' });
    });

    it('creates the embedded documents a dotted path goes through', () => {
      expect(applyUpdate(order(), { $set: { 'meta.source.name': 'web' } })?.meta).toEqual({ source: { name: 'web' } });
    });

    it('sets a field of an array element by its index', () => {
      const after = applyUpdate(order(), { $set: { 'items.0.qty': 5, 'tags.0': 'z' } })!;
      expect(after.items).toEqual([{ sku: 'x', qty: 5 }]);
      expect(after.tags).toEqual(['z']);
    });

    it('sets a whole embedded document, copied', () => {
      const address = { city: 'Lyon' };
      const after = applyUpdate(order(), { $set: { address } })!;
      expect(after.address).toEqual({ city: 'Lyon' });
      expect(after.address).not.toBe(address);
    });

    it('applies several operators and paths together', () => {
      const after = applyUpdate(order(), { $set: { status: 'paid', 'address.zip': '69001' }, $inc: { count: 1 }, $unset: { tags: '' } })!;
      expect(after).toEqual({
        _id: 'o1',
        status: 'paid',
        total: 10,
        count: 3,
        address: { city: 'Paris', zip: '69001' },
        items: [{ sku: 'x', qty: 1 }],
        at: order().at,
      });
    });

    it('answers undefined when a dotted path goes through a value that is not a document', () => {
      expect(applyUpdate(order(), { $set: { 'status.code': 1 } })).toBeUndefined();
    });
  });

  describe('with $unset', () => {
    it('removes a top-level field', () => {
      const after = applyUpdate(order(), { $unset: { status: '' } })!;
      expect(after).not.toHaveProperty('status');
      expect(after.total).toBe(10);
    });

    it('removes a dotted path, keeping its siblings', () => {
      expect(applyUpdate(order(), { $unset: { 'address.city': 1 } })?.address).toEqual({ zip: '75001' });
    });

    it('changes nothing for a path that does not exist, however deep', () => {
      expect(applyUpdate(order(), { $unset: { missing: '', 'nowhere.deep.path': '' } })).toEqual(order());
    });

    it('does not create the documents a missing path goes through', () => {
      expect(applyUpdate(order(), { $unset: { 'meta.x': '' } })).not.toHaveProperty('meta');
    });
  });

  describe('with $inc and $mul', () => {
    it('adds to a number', () => {
      expect(applyUpdate(order(), { $inc: { count: 3, total: -2.5 } })).toMatchObject({ count: 5, total: 7.5 });
    });

    it('adds to a number at a dotted path', () => {
      expect(applyUpdate(order(), { $inc: { 'items.0.qty': 2 } })?.items).toEqual([{ sku: 'x', qty: 3 }]);
    });

    it('starts a missing field at the amount', () => {
      expect(applyUpdate(order(), { $inc: { views: 4, 'stats.hits': 1 } })).toMatchObject({ views: 4, stats: { hits: 1 } });
    });

    it('multiplies a number', () => {
      expect(applyUpdate(order(), { $mul: { total: 1.5, 'items.0.qty': 4 } })).toMatchObject({ total: 15, items: [{ sku: 'x', qty: 4 }] });
    });

    it('sets a missing field to 0 when multiplying', () => {
      expect(applyUpdate(order(), { $mul: { views: 7 } })?.views).toBe(0);
    });

    it.each<[string, Doc]>([
      ['a string amount', { $inc: { count: '1' } }],
      ['a non-finite amount', { $inc: { count: Infinity } }],
      ['a NaN amount', { $mul: { count: NaN } }],
      ['a field that holds a string', { $inc: { status: 1 } }],
      ['a field that holds null', { $inc: { missingValue: 1 } }],
      ['a BSON number of another kind', { $inc: { count: { _bsontype: 'Long', low: 1, high: 0 } } }],
    ])('answers undefined for %s', (_, update) => {
      expect(applyUpdate({ ...order(), missingValue: null }, update)).toBeUndefined();
    });
  });

  describe('with $min and $max', () => {
    it('keeps the smaller number with $min', () => {
      expect(applyUpdate(order(), { $min: { total: 3 } })?.total).toBe(3);
      expect(applyUpdate(order(), { $min: { total: 30 } })?.total).toBe(10);
    });

    it('keeps the larger number with $max', () => {
      expect(applyUpdate(order(), { $max: { total: 30 } })?.total).toBe(30);
      expect(applyUpdate(order(), { $max: { total: 3 } })?.total).toBe(10);
    });

    it('compares Dates by time', () => {
      const earlier = new Date('2023-06-01T00:00:00Z');
      const later = new Date('2025-06-01T00:00:00Z');
      expect(applyUpdate(order(), { $min: { at: earlier } })?.at).toEqual(earlier);
      expect(applyUpdate(order(), { $min: { at: later } })?.at).toEqual(order().at);
      expect(applyUpdate(order(), { $max: { at: later } })?.at).toEqual(later);
      expect(applyUpdate(order(), { $max: { at: earlier } })?.at).toEqual(order().at);
    });

    it('works at a dotted path', () => {
      expect(applyUpdate(order(), { $max: { 'items.0.qty': 9 } })?.items).toEqual([{ sku: 'x', qty: 9 }]);
    });

    it('sets a missing field to the value', () => {
      expect(applyUpdate(order(), { $min: { low: 4 }, $max: { 'stats.high': 8 } })).toMatchObject({ low: 4, stats: { high: 8 } });
    });

    it.each<[string, Doc]>([
      ['a number against a string', { $min: { status: 1 } }],
      ['a Date against a number', { $max: { total: new Date() } }],
      ['a number against a Date', { $max: { at: 5 } }],
    ])('answers undefined for %s, whose order follows BSON rules', (_, update) => {
      expect(applyUpdate(order(), update)).toBeUndefined();
    });
  });

  describe('with $push', () => {
    it('appends one value', () => {
      expect(applyUpdate(order(), { $push: { tags: 'b' } })?.tags).toEqual(['a', 'b']);
    });

    it('appends an array as one element', () => {
      expect(applyUpdate(order(), { $push: { tags: ['b', 'c'] } })?.tags).toEqual(['a', ['b', 'c']]);
    });

    it('appends every value of $each, in order', () => {
      expect(applyUpdate(order(), { $push: { tags: { $each: ['b', 'c'] } } })?.tags).toEqual(['a', 'b', 'c']);
    });

    it('appends an embedded document at a dotted path, copied', () => {
      const item = { sku: 'y', qty: 2 };
      const after = applyUpdate({ _id: 1, cart: { items: [] } }, { $push: { 'cart.items': item } })!;
      expect(after.cart).toEqual({ items: [item] });
      expect((after.cart as { items: unknown[] }).items[0]).not.toBe(item);
    });

    it('creates a missing array', () => {
      expect(applyUpdate(order(), { $push: { notes: 'x', 'meta.log': { $each: [1, 2] } } })).toMatchObject({
        notes: ['x'],
        meta: { log: [1, 2] },
      });
    });

    it('answers undefined when the field is not an array', () => {
      expect(applyUpdate(order(), { $push: { status: 'x' } })).toBeUndefined();
    });

    it.each(['$slice', '$sort', '$position'])('answers undefined for $each with %s', (modifier) => {
      expect(applyUpdate(order(), { $push: { tags: { $each: ['b'], [modifier]: 1 } } })).toBeUndefined();
    });
  });

  describe('when the result cannot be known from the document alone', () => {
    it.each<[string, unknown]>([
      ['an aggregation pipeline', [{ $set: { status: 'paid' } }]],
      ['an empty pipeline', []],
      ['a positional $ path', { $set: { 'items.$.qty': 2 } }],
      ['an all-positional $[] path', { $inc: { 'items.$[].qty': 1 } }],
      ['a filtered positional path', { $set: { 'items.$[item].qty': 2 } }],
      ['$currentDate', { $currentDate: { updatedAt: true } }],
      ['$pull', { $pull: { tags: 'a' } }],
      ['$pullAll', { $pullAll: { tags: ['a'] } }],
      ['$addToSet', { $addToSet: { tags: 'b' } }],
      ['$pop', { $pop: { tags: 1 } }],
      ['$rename', { $rename: { status: 'state' } }],
      ['$bit', { $bit: { count: { and: 1 } } }],
      ['a known operator beside an unknown one', { $set: { status: 'paid' }, $pull: { tags: 'a' } }],
    ])('answers undefined for %s', (_, update) => {
      expect(applyUpdate(order(), update)).toBeUndefined();
    });

    it.each<[string, unknown]>([
      ['null', null],
      ['a string', '{"$set":{}}'],
      ['a number', 1],
    ])('answers undefined for an update that is %s', (_, update) => {
      expect(applyUpdate(order(), update)).toBeUndefined();
    });
  });

  describe('with $setOnInsert', () => {
    it('ignores it, since the document already exists', () => {
      expect(applyUpdate(order(), { $setOnInsert: { createdAt: new Date(), status: 'draft' } })).toEqual(order());
    });

    it('applies the other operators beside it', () => {
      const after = applyUpdate(order(), { $setOnInsert: { createdAt: new Date() }, $set: { status: 'paid' } })!;
      expect(after.status).toBe('paid');
      expect(after).not.toHaveProperty('createdAt');
    });
  });

  describe('the document given', () => {
    it.each<[string, unknown]>([
      ['$set on a nested path', { $set: { 'address.city': 'Lyon', 'items.0.qty': 9 } }],
      ['$unset on a nested path', { $unset: { 'address.city': '' } }],
      ['$inc and $mul', { $inc: { count: 1, 'items.0.qty': 1 }, $mul: { total: 2 } }],
      ['$min and $max', { $min: { total: 1 }, $max: { at: new Date('2030-01-01T00:00:00Z') } }],
      ['$push', { $push: { tags: 'b', 'address.lines': 'x' } }],
      ['a replacement', { status: 'paid' }],
      ['an update it cannot follow', { $set: { status: 'paid' }, $pull: { tags: 'a' } }],
    ])('is never changed, by %s', (_, update) => {
      const doc = order();
      applyUpdate(doc, update);
      expect(doc).toEqual(order());
    });

    it('shares nothing with the result', () => {
      const doc = order();
      const after = applyUpdate(doc, { $set: { status: 'paid' } })!;
      expect(after.address).not.toBe(doc.address);
      expect(after.items).not.toBe(doc.items);
      expect(after.at).not.toBe(doc.at);
      (after.address as Doc).city = 'Lyon';
      expect((doc.address as Doc).city).toBe('Paris');
    });
  });
});

describe('applyUpdate, where MongoDB and JavaScript objects differ', () => {
  it('never writes through a prototype key: such an update is left to a read back', () => {
    expect(applyUpdate({ _id: 1 }, { $set: { '__proto__.polluted': 'yes' } })).toBeUndefined();
    expect(applyUpdate({ _id: 1 }, { $inc: { '__proto__.n': 1 } })).toBeUndefined();
    expect(applyUpdate({ _id: 1 }, { $set: { 'constructor.prototype.polluted': 'yes' } })).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).n).toBeUndefined();
  });

  it('does not claim to know a positional $unset', () => {
    expect(applyUpdate({ _id: 1, items: [{ x: 1 }] }, { $unset: { 'items.$.x': '' } })).toBeUndefined();
    expect(applyUpdate({ _id: 1, items: [{ x: 1 }] }, { $unset: { 'items.$[].x': '' } })).toBeUndefined();
  });

  it('unsets an array element to null and pads a $set past the end with nulls, as MongoDB does', () => {
    expect(applyUpdate({ _id: 1, items: [1, 2] }, { $unset: { 'items.0': '' } })).toEqual({ _id: 1, items: [null, 2] });
    expect(applyUpdate({ _id: 1, items: [1, 2] }, { $set: { 'items.4': 5 } })).toEqual({ _id: 1, items: [1, 2, null, null, 5] });
  });

  it('leaves an update mixing operators and plain fields to a read back', () => {
    expect(applyUpdate({ _id: 1, b: 1 }, { $set: { b: 2 }, c: 3 })).toBeUndefined();
  });

  it('leaves a $push whose $each is not a list to a read back', () => {
    expect(applyUpdate({ _id: 1, tags: [] }, { $push: { tags: { $each: 'abc' } } })).toBeUndefined();
  });
});
