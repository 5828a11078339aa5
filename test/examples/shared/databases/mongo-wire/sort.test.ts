import { ObjectId } from 'bson';
import fc from 'fast-check';
import { find as mingoFind } from 'mingo';
import { expect, it } from 'vitest';
import { sortDocuments } from '../../../../../examples/shared/databases/mongo-wire/sort.js';

// The server sorts a key of one simple kind itself and leaves the rest to mingo: whatever the documents, the
// order must be mingo's own, ties (kept in the order they came) included.
const SEED = Number(process.env.PROPERTY_SEED ?? 20_261_130);
const ids = Array.from({ length: 6 }, (_, i) => new ObjectId(i.toString(16).padStart(24, '0')));

const value = fc.oneof(
  fc.constantFrom('a', 'b', 'B', 'ab', '', 'é', '10', '9'),
  fc.constantFrom(1, 2, 3.5, -1, 100, 0, -0, Number.NaN),
  fc.constantFrom(0, 1000, 5000, -3).map((t) => new Date(t)),
  fc.constantFrom(...ids),
  fc.constantFrom(null, undefined, true, [1, 2], { x: 1 }, new Date(Number.NaN)),
);
// Mostly one kind per key (the direct sort), sometimes mixed (mingo's).
const column = fc.oneof(
  fc.constantFrom(0, 1, 2, 3).chain((kind) =>
    fc.array(
      value.filter((v) => kindOf(v) === kind),
      { maxLength: 30 },
    ),
  ),
  fc.array(value, { maxLength: 30 }),
);
const kindOf = (v: unknown) =>
  typeof v === 'string' ? 0 : typeof v === 'number' ? 1 : v instanceof Date ? 2 : v instanceof ObjectId ? 3 : 4;

it('sorts documents in the very order of mingo, key by key, ties in the order they came', () => {
  fc.assert(
    fc.property(
      column,
      column,
      fc.constantFrom<Record<string, 1 | -1>>(
        { a: 1 },
        { a: -1 },
        { a: 1, b: -1 },
        { b: -1, a: 1 },
        { 'in.a': -1, _id: 1 },
        { a: -1, _id: -1 },
      ),
      (as, bs, sort) => {
        const docs = as.map((a, i) => ({ _id: i, a, b: bs[i % Math.max(bs.length, 1)], in: { a } }));
        const order = (sorted: Array<{ _id: unknown }>) => sorted.map((doc) => doc._id);
        expect(order(sortDocuments(docs.slice(), sort) as typeof docs)).toEqual(
          order(mingoFind(docs.slice(), {}).sort(sort).all() as typeof docs),
        );
      },
    ),
    { seed: SEED, numRuns: 2000 },
  );
});
