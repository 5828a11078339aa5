import { isObjectId } from '../../shared/document.js';
import { driverObjectId, learnObjectIdClass } from '../../shared/object-id.js';
import type { EntryPosition, SortOrder } from '../store.js';
import { FOREIGN_POSITION, positionError } from '../store.js';
import type { MongoCollectionLike, MongoDocument } from './mongo-types.js';

/**
 * Keyset paging by (time, `_id`): both ascending or both descending, entries strictly past a position. The time
 * indexes end in `_id` (see `mongoIndexes`), so a page is one index range read in order.
 */

export function timeSort(timeField: string, order: SortOrder): MongoDocument {
  const dir = order === 'asc' ? 1 : -1;
  return { [timeField]: dir, _id: dir };
}

/**
 * Entries past `(time, id)` in `order`. The bound on time alone gives the index range; the `$or` then drops the
 * entries of that very time up to the id.
 */
export function pastCondition(timeField: string, order: SortOrder, time: Date, id: unknown): MongoDocument {
  const [past, pastOrAt] = order === 'asc' ? ['$gt', '$gte'] : ['$lt', '$lte'];
  return { [timeField]: { [pastOrAt]: time }, $or: [{ [timeField]: { [past]: time } }, { _id: { [past]: id } }] };
}

/** The sequence of a stored-order position, refused when it is not one this store made. */
export function seqOf(position: EntryPosition): number {
  if (!SEQ_TEXT.test(position.seq)) throw positionError(FOREIGN_POSITION);
  return Number(position.seq);
}

/** What is wrong with a position: its id is not an `_id` as `IdCodec` writes it, or its seq not a sequence. */
export function positionProblem(position: EntryPosition): string | undefined {
  return isIdText(position.id) && SEQ_TEXT.test(position.seq) ? undefined : FOREIGN_POSITION;
}

/** A sequence of `SEQ` as a position holds it, which `Number` reads back exactly. */
const SEQ_TEXT = /^\d{1,15}$/;
const HEX_ID = /^[0-9a-f]{24}$/;
const STRING_ID = 's:';

const isIdText = (text: string) => text.startsWith(STRING_ID) || HEX_ID.test(text);

/**
 * `_id`s as position ids and back: an ObjectId as its hex (other `_id`s, which actionlog never makes, as `s:` and
 * the string). The core never imports the driver: ObjectIds are rebuilt with the class of one the server returned.
 */
export class IdCodec {
  text(id: unknown): string {
    if (isObjectId(id)) {
      learnObjectIdClass(id);
      return id.toHexString();
    }
    return `${STRING_ID}${String(id)}`;
  }

  /**
   * The `_id` of a position id; undefined when the collection has no ObjectId to learn the class from (it is empty:
   * actionlog's entries all have ObjectIds).
   */
  async value(text: string, collection: MongoCollectionLike): Promise<unknown> {
    if (text.startsWith(STRING_ID)) return text.slice(STRING_ID.length);
    if (!HEX_ID.test(text)) throw positionError(FOREIGN_POSITION);
    if (!driverObjectId(text)) await learnObjectIdClassFrom(collection);
    return driverObjectId(text);
  }
}

/** Learns the driver's ObjectId class from an `_id` of the collection, if it holds a document. */
export async function learnObjectIdClassFrom(collection: MongoCollectionLike): Promise<void> {
  const sample = await collection.findOne({}, { projection: { _id: 1 } });
  learnObjectIdClass(sample?._id);
}
