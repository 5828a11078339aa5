import type { CustomFieldMatch, EntryKind, StoreFilter } from '../store.js';
import type { MongoDocument } from './mongo-types.js';

/**
 * Store filters as MongoDB queries, kind by kind, with the semantics `MemoryStore` defines (`entry-filter.ts`):
 * every given field must match. Each function returns conditions that `allOf` joins.
 */

/** The field each kind is ordered by, and `from`/`to` apply to. */
export const TIME_FIELD: Readonly<Record<EntryKind, string>> = {
  requests: 'timestamp',
  actions: 'emitted_at',
  changes: 'timestamp',
  activities: 'activity_date',
};

/** Where the user `_id` of a request sits: in its HTTP request, or in its run (jobs, `logger.run`). */
export const REQUEST_USER_PATHS = ['details.request.user_details._id', 'details.run.user_details._id'] as const;

/** Conditions joined into one query (an empty `$and` is refused by MongoDB). */
export function allOf(conditions: MongoDocument[]): MongoDocument {
  const [only, ...more] = conditions;
  if (!only) return {};
  return more.length === 0 ? only : { $and: conditions };
}

/**
 * Not expired at `now`: no `expires_at`, or a later one. The TTL monitor deletes expired documents only once a
 * minute or so, and reads must not return them meanwhile.
 */
export const notExpired = (now: Date): MongoDocument => ({ expires_at: { $not: { $lte: now } } });

/** What a purge with these deletes (see `PurgeQuery`). */
function purgeableCondition(kind: EntryKind, p: { expiredAt: Date; before?: Date }): MongoDocument {
  const expired = { expires_at: { $lte: p.expiredAt } };
  return p.before ? { $or: [expired, { [TIME_FIELD[kind]]: { $lt: p.before } }] } : expired;
}

/** The conditions of a filter on entries of a kind (never an expired one). */
export function filterConditions(kind: EntryKind, f: StoreFilter, now = new Date(), objectIdOf?: ObjectIdOf): MongoDocument[] {
  const conditions: MongoDocument[] = f.purgeable ? [purgeableCondition(kind, f.purgeable)] : f.include_expired ? [] : [notExpired(now)];
  for (const key of ['request_uuid', 'correlation_id', 'module'] as const) {
    if (f[key] !== undefined) conditions.push({ [key]: f[key] });
  }
  if (f.actor_id !== undefined) conditions.push(actorCondition(kind, f.actor_id, objectIdOf));
  conditions.push(...timeCondition(kind, f));
  switch (kind) {
    case 'requests':
      return [...conditions, ...requestConditions(f)];
    case 'actions':
      return [...conditions, ...actionConditions(f)];
    case 'changes':
      return [...conditions, ...changeConditions(f)];
    case 'activities':
      return conditions;
  }
}

/** The ObjectId of a 24-hex id, built with the driver's class (undefined when none is known yet). */
export type ObjectIdOf = (hex: string) => unknown;

const HEX_ID = /^[0-9a-f]{24}$/i;

/**
 * The forms a user id given as text may be stored in: user references keep their id's type, so `'7'` also finds
 * the number 7, and a 24-hex id also finds the ObjectId.
 */
export function userIdForms(actor: string, objectIdOf?: ObjectIdOf): unknown[] {
  const forms: unknown[] = [actor];
  const n = Number(actor);
  if (actor.trim() !== '' && Number.isFinite(n) && String(n) === actor) forms.push(n);
  const objectId = HEX_ID.test(actor) ? objectIdOf?.(actor.toLowerCase()) : undefined;
  if (objectId !== undefined) forms.push(objectId);
  return forms;
}

function actorCondition(kind: EntryKind, actor: string, objectIdOf?: ObjectIdOf): MongoDocument {
  if (kind === 'actions') return { actor_id: actor };
  const forms = userIdForms(actor, objectIdOf);
  const value = forms.length === 1 ? actor : { $in: forms };
  return kind === 'requests' ? { $or: REQUEST_USER_PATHS.map((path) => ({ [path]: value })) } : { 'user._id': value };
}

/**
 * `from` and `to`, inclusive. Without them, requests need a time of the right type: a request document whose late
 * events came first has none until it arrives, and is not an entry before then. Other entries always have one (and
 * a condition on it would make the time index a candidate of every query, for MongoDB's planner to race).
 */
function timeCondition(kind: EntryKind, f: StoreFilter): MongoDocument[] {
  const range: MongoDocument = {};
  if (f.from !== undefined) range.$gte = f.from;
  if (f.to !== undefined) range.$lte = f.to;
  if (Object.keys(range).length > 0) return [{ [TIME_FIELD[kind]]: range }];
  return kind === 'requests' ? [{ [TIME_FIELD[kind]]: { $type: 'date' } }] : [];
}

function requestConditions(f: StoreFilter): MongoDocument[] {
  const conditions: MongoDocument[] = [];
  if (f.model !== undefined || f.model_id !== undefined) {
    // One model log must match both, hence $elemMatch.
    const log: MongoDocument = {};
    if (f.model !== undefined) log.model = f.model;
    if (f.model_id !== undefined) log.model_id = f.model_id;
    conditions.push({ 'details.model_logs': { $elemMatch: log } });
  }
  if (f.method !== undefined) conditions.push({ 'details.request.method': f.method });
  if (f.route !== undefined) conditions.push({ 'details.request.route': f.route });
  if (f.status !== undefined) conditions.push({ 'details.response.status_code': f.status });
  return conditions;
}

function actionConditions(f: StoreFilter): MongoDocument[] {
  const conditions: MongoDocument[] = [];
  // Soft-deleted actions are hidden unless asked for.
  if (!f.include_inactive) conditions.push({ is_active: { $ne: false } });
  for (const key of ['action_type', 'action_category', 'target_type', 'target_id'] as const) {
    if (f[key] !== undefined) conditions.push({ [key]: f[key] });
  }
  if (f.tag_type !== undefined || f.tag_ref !== undefined) {
    const tag: MongoDocument = {};
    if (f.tag_type !== undefined) tag.type = f.tag_type;
    if (f.tag_ref !== undefined) tag.ref = f.tag_ref;
    conditions.push({ tags: { $elemMatch: tag } });
  }
  if (f.entity_ref !== undefined) conditions.push({ 'entity_path.ref': f.entity_ref });
  for (const match of f.custom ?? []) conditions.push(customCondition(match));
  if (f.q !== undefined) {
    const search = textSearch(f.q);
    if (search) conditions.push({ $text: { $search: search } });
  }
  return conditions;
}

function changeConditions(f: StoreFilter): MongoDocument[] {
  const conditions: MongoDocument[] = [];
  if (f.model !== undefined) conditions.push({ model: f.model });
  // `null` finds the summary entries, whose model_id is null.
  if (f.model_id !== undefined) conditions.push({ model_id: f.model_id });
  if (f.action !== undefined) conditions.push({ action: f.action });
  if (f.changed_field !== undefined) conditions.push({ 'model_details.changed_fields': f.changed_field });
  return conditions;
}

/**
 * A custom field equality, of the same type (30 is not '30'): `details`, `source` and `actor.extra` are each a list
 * of `{ name, value, type }` (an element) or an object (a property), whichever the entry holds: `details` is a
 * free object in the ActionLog service's shape.
 */
function customCondition(match: CustomFieldMatch): MongoDocument {
  // MongoDB's equality also matches a list holding the value: the value must not be one.
  const value = { $eq: match.value, $not: { $type: 'array' } };
  const element = { [match.in]: { $elemMatch: { name: match.name, value } } };
  // On a list, `source.<name>` would reach into its elements: the object form must not be a list.
  const property = { [match.in]: { $not: { $type: 'array' } }, [`${match.in}.${match.name}`]: value };
  return { $or: [element, property] };
}

/** MongoDB's text delimiters (text index version 3, language `none`): what separates words in `q` too. */
const DELIMITERS =
  /[\p{White_Space}\p{Dash}\p{Quotation_Mark}\p{Terminal_Punctuation}\p{Pattern_Syntax}\p{Sentence_Terminal}\u00AD\u1806\u30FB\uFF65]+/u;

const WORDLIKE = /[\p{L}\p{N}]/u;

/**
 * `q` as a `$text` search in which every word must match: each word quoted, since MongoDB ORs bare words and ANDs
 * phrases. Undefined when `q` holds no word (then it matches everything, as in every store).
 */
export function textSearch(q: string): string | undefined {
  // A piece with no letter or digit (`€`, `--`) is no word on any store.
  const words = q.split(DELIMITERS).filter((piece) => WORDLIKE.test(piece));
  return words.length > 0 ? words.map((word) => `"${word}"`).join(' ') : undefined;
}
