import { ObjectId, type Document } from 'bson';
import { find as mingoFind } from 'mingo';
import { resolve } from 'mingo/util';

type Comparable = string | number;

/**
 * The values of one sort key as plain strings or numbers that order as mingo orders them, when they are all of one
 * kind where that is so and where equal means the same value: strings, finite numbers, valid dates, ObjectIds.
 */
function comparableValues(values: unknown[]): Comparable[] | undefined {
  const first = values[0];
  if (typeof first === 'string') return values.every((v) => typeof v === 'string') ? values : undefined;
  if (typeof first === 'number')
    return values.every((v) => typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0)) ? (values as number[]) : undefined;
  if (first instanceof Date) {
    const times = values.map((v) => (v instanceof Date ? v.getTime() : Number.NaN));
    return times.every((t) => !Number.isNaN(t)) ? times : undefined;
  }
  if (first instanceof ObjectId) return values.every((v) => v instanceof ObjectId) ? values.map((v) => v.toHexString()) : undefined;
  return undefined;
}

/**
 * Sorts as mingo's `$sort` does: key by key from the last, each pass stable (ties keep the order they came in,
 * descending too). Mingo groups the documents by each key's value, hashing every one of them, which made a sorted
 * page of a few thousand documents cost tens of milliseconds; a key whose values are all of one simple kind is
 * sorted directly here instead, in the same order. Any other key (mixed kinds, arrays, missing values, `$meta`)
 * is mingo's.
 */
export function sortDocuments(docs: Document[], sort: Document): Document[] {
  let sorted = docs;
  for (const key of Object.keys(sort).reverse()) {
    const direction = sort[key] as unknown;
    const values = direction === 1 || direction === -1 ? comparableValues(sorted.map((doc) => resolve(doc, key))) : undefined;
    if (!values) {
      sorted = mingoFind(sorted, {})
        .sort({ [key]: direction })
        .all();
      continue;
    }
    const sign = direction as number;
    const keyed = sorted.map((doc, i) => ({ doc, value: values[i] as Comparable }));
    // Array.prototype.sort is stable: equal values keep their order.
    keyed.sort((a, b) => (a.value < b.value ? -sign : a.value > b.value ? sign : 0));
    sorted = keyed.map((entry) => entry.doc);
  }
  return sorted;
}
