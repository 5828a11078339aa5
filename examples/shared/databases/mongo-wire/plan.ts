import type { Document } from 'bson';
import { badValue, notImplemented } from './errors.js';
import { getPath, type IndexSpec, keyOf } from './storage.js';

/**
 * The query plans of `find` as MongoDB's planner makes them, for `explain` and `hint`, where the choice is MongoDB's
 * own without running plans: a hinted index, or the one plan the planner enumerates. When MongoDB would enumerate
 * several plans and race them (trial runs whose outcome depends on its storage), this server refuses rather than
 * guess. A plan names its stages, index, direction and multikeyness; it leaves out index bounds and filters.
 */

export interface FindShape {
  filter: Document;
  sort?: Document;
  projection?: Document;
  hint?: unknown;
  skip?: number;
  limit?: number;
}

/** Predicate operators an index can answer (MongoDB's indexable ones); those that match a missing field too. */
const INDEXABLE = new Set(['$eq', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$ne', '$type', '$exists', '$regex', '$options', '$all']);
const INDEXABLE_NESTED = new Set(['$elemMatch', '$not']);
const NOT_PLANNED = new Set(['$text', '$expr', '$where', '$jsonSchema', '$near', '$nearSphere', '$geoWithin', '$geoIntersects']);

interface Predicates {
  /** Conditions by field, from the top-level conjunction (`$and`s flattened, `$elemMatch` objects into their paths). */
  fields: Map<string, unknown[]>;
  /** The branch lists of `$or`s in that conjunction. */
  ors: Document[][];
}

const isOperatorObject = (v: unknown): v is Document =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some((k) => k.startsWith('$'));

function predicates(filter: Document, out: Predicates = { fields: new Map(), ors: [] }): Predicates {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and') for (const sub of value as Document[]) predicates(sub, out);
    else if (key === '$or') out.ors.push(value as Document[]);
    else if (NOT_PLANNED.has(key)) throw notImplemented(`planning a query with ${key}`);
    else if (key.startsWith('$'))
      continue; // $nor, $comment: nothing an index answers
    else {
      out.fields.set(key, [...(out.fields.get(key) ?? []), value]);
      const elem = isOperatorObject(value) ? (value.$elemMatch as unknown) : undefined;
      if (elem && typeof elem === 'object' && !isOperatorObject(elem)) {
        const nested = predicates(elem);
        for (const [sub, values] of nested.fields) out.fields.set(`${key}.${sub}`, [...(out.fields.get(`${key}.${sub}`) ?? []), ...values]);
      }
    }
  }
  return out;
}

function indexable(value: unknown): boolean {
  if (!isOperatorObject(value)) return true;
  return Object.keys(value).every((op) => {
    if (INDEXABLE.has(op) || INDEXABLE_NESTED.has(op)) return true;
    if (op.startsWith('$')) throw notImplemented(`planning a query with ${op}`);
    return false;
  });
}

/** Whether a condition may match documents without the field (a sparse index lacks them). */
function matchesMissing(value: unknown): boolean {
  if (value === null) return true;
  if (!isOperatorObject(value)) return false;
  if (value.$eq === null || value.$exists === false) return true;
  if (Array.isArray(value.$in) && value.$in.includes(null)) return true;
  return ['$ne', '$nin', '$not'].some((op) => op in value);
}

/** Whether a condition fixes the field to one value (a point bound of an index). */
function pointEquality(value: unknown): boolean {
  if (isOperatorObject(value)) {
    const ops = Object.keys(value);
    if (ops.length === 1 && ops[0] === '$eq') return pointEquality(value.$eq);
    if (ops.length === 1 && ops[0] === '$in') return Array.isArray(value.$in) && value.$in.length === 1 && pointEquality(value.$in[0]);
    return false;
  }
  return !Array.isArray(value) && !(value instanceof RegExp);
}

const isSpecial = (index: IndexSpec) => Object.values(index.key).some((kind) => typeof kind === 'string');

/** The index a hint names (by name or key pattern), `natural` for `{ $natural }`, or an error as MongoDB gives. */
export function hintedIndex(indexes: readonly IndexSpec[], hint: unknown): IndexSpec | { natural: 1 | -1 } {
  if (hint !== null && typeof hint === 'object' && '$natural' in hint) return { natural: Number((hint as Document).$natural) < 0 ? -1 : 1 };
  const found =
    typeof hint === 'string' ? indexes.find((i) => i.name === hint) : indexes.find((i) => keyOf(i.key) === keyOf(hint as Document));
  if (!found)
    throw badValue('error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index');
  if (found.partialFilterExpression) throw notImplemented('a hint of a partial index');
  if (isSpecial(found)) throw notImplemented('a hint of a text, hashed or geo index');
  return found;
}

/** The documents a hinted index holds: a sparse one lacks those with none of its fields, as in MongoDB. */
export function inHintedIndex(index: IndexSpec | { natural: 1 | -1 }, docs: Document[]): Document[] {
  if (!('key' in index) || !index.sparse) return docs;
  const fields = Object.keys(index.key);
  return docs.filter((doc) => fields.some((field) => getPath(doc, field) !== undefined));
}

interface IndexPlan {
  index: IndexSpec;
  direction: 1 | -1;
  /** False when a SORT stage must order what the scan returns. */
  sorted: boolean;
}

/** The winning plan of a find over a collection (undefined: no such collection), as MongoDB's explain shows it. */
export function winningPlan(indexes: readonly IndexSpec[] | undefined, docs: Document[], find: FindShape): Document {
  if (!indexes) return { stage: 'EOF' };
  const preds = predicates(find.filter);
  const sort = find.sort && Object.keys(find.sort).length > 0 ? find.sort : undefined;
  const keys = Object.keys(find.filter);
  let access: Document;
  let sorted = !sort;
  if (find.hint !== undefined) {
    const hinted = hintedIndex(indexes, find.hint);
    if ('natural' in hinted) access = { stage: 'COLLSCAN', direction: hinted.natural === 1 ? 'forward' : 'backward' };
    else {
      const plan = indexPlan(hinted, preds, sort, docs);
      access = scan(plan, docs);
      sorted = plan.sorted;
    }
  } else if (keys.length === 1 && keys[0] === '_id' && !isOperatorObject(find.filter._id)) {
    return { stage: 'IDHACK' };
  } else {
    const plans = candidatePlans(indexes, preds, sort, docs);
    if (plans.length > 1) {
      throw notImplemented(
        `explaining, without a hint, a query that ${plans.length} index plans could answer (${plans.map((p) => p.index.name).join(', ')}: MongoDB races them)`,
      );
    }
    const [only] = plans;
    access = only ? scan(only, docs) : { stage: 'COLLSCAN', direction: 'forward' };
    sorted = only ? only.sorted : !sort;
  }
  return decorate(access, find, sorted);
}

function candidatePlans(indexes: readonly IndexSpec[], preds: Predicates, sort: Document | undefined, docs: Document[]): IndexPlan[] {
  const relevant = indexes.filter((index) => isRelevant(index, preds));
  for (const index of relevant) if (index.partialFilterExpression) throw notImplemented('planning with a partial index');
  // An $or whose every branch an index answers gives MongoDB OR plans too.
  for (const branches of preds.ors) {
    if (branches.every((branch) => indexes.some((index) => isRelevant(index, predicates(branch))))) {
      throw notImplemented('explaining, without a hint, a query with an $or that indexes answer (MongoDB plans it several ways)');
    }
  }
  const plans = relevant.map((index) => indexPlan(index, preds, sort, docs));
  if (sort && !plans.some((p) => p.sorted)) {
    // MongoDB then adds full scans of the indexes that give the sort.
    const plain = indexes.filter((index) => !index.sparse && !index.partialFilterExpression && !isSpecial(index));
    for (const index of plain) {
      const plan = indexPlan(index, { fields: new Map(), ors: [] }, sort, docs);
      if (plan.sorted) plans.push(plan);
    }
  }
  return plans;
}

/** An index is relevant when its first field has a condition it can answer (a sparse one: never matching missing). */
function isRelevant(index: IndexSpec, preds: Predicates): boolean {
  if (isSpecial(index)) return false;
  const [first] = Object.keys(index.key);
  const conditions = first === undefined ? undefined : preds.fields.get(first);
  if (!conditions?.some(indexable)) return false;
  return !(index.sparse && conditions.some(matchesMissing));
}

/** How a scan of an index reads: in the direction that gives the sort, once point-equality fields are set aside. */
function indexPlan(index: IndexSpec, preds: Predicates, sort: Document | undefined, docs: Document[]): IndexPlan {
  if (!sort) return { index, direction: 1, sorted: true };
  const fixed = (field: string) => preds.fields.get(field)?.some(pointEquality) ?? false;
  const rest = Object.entries(index.key).filter(([field]) => !fixed(field));
  const wanted = Object.entries(sort).filter(([field]) => !fixed(field));
  const multikey = multiKeyPaths(index, docs);
  if (wanted.some(([field]) => (multikey[field]?.length ?? 0) > 0)) return { index, direction: 1, sorted: false };
  const along = (sign: 1 | -1) =>
    wanted.length <= rest.length && wanted.every(([field, dir], i) => rest[i]?.[0] === field && Number(rest[i][1]) * sign === Number(dir));
  if (along(1)) return { index, direction: 1, sorted: true };
  if (along(-1)) return { index, direction: -1, sorted: true };
  return { index, direction: 1, sorted: false };
}

/** For each field of an index, the paths along it that hold an array in some document. */
function multiKeyPaths(index: IndexSpec, docs: Document[]): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const field of Object.keys(index.key)) {
    const parts = field.split('.');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('.'));
    paths[field] = prefixes.filter((prefix) => docs.some((doc) => holdsArrayAt(doc, prefix)));
  }
  return paths;
}

/** Whether the path leads, through objects or array elements, to an array. */
function holdsArrayAt(value: unknown, path: string): boolean {
  const [head, ...rest] = path.split('.');
  if (Array.isArray(value)) return value.some((element) => holdsArrayAt(element, path));
  if (value === null || typeof value !== 'object' || head === undefined) return false;
  const next: unknown = (value as Document)[head];
  return rest.length === 0 ? Array.isArray(next) : holdsArrayAt(next, rest.join('.'));
}

function scan(plan: IndexPlan, docs: Document[]): Document {
  const paths = multiKeyPaths(plan.index, docs);
  return {
    stage: 'FETCH',
    inputStage: {
      stage: 'IXSCAN',
      keyPattern: plan.index.key,
      indexName: plan.index.name,
      isMultiKey: Object.values(paths).some((p) => p.length > 0),
      multiKeyPaths: paths,
      isUnique: plan.index.unique === true,
      isSparse: plan.index.sparse === true,
      isPartial: false,
      indexVersion: 2,
      direction: plan.direction === 1 ? 'forward' : 'backward',
    },
  };
}

/** The stages over the access: a blocking sort (taking the limit), skip, limit, projection. */
function decorate(access: Document, find: FindShape, sorted: boolean): Document {
  let stage = access;
  const limit = find.limit ? Math.abs(find.limit) : 0;
  if (!sorted && find.sort) {
    stage = {
      stage: 'SORT',
      sortPattern: find.sort,
      memLimit: 104857600,
      ...(limit ? { limitAmount: limit + (find.skip ?? 0) } : {}),
      type: 'simple',
      inputStage: stage,
    };
  }
  if (find.skip) stage = { stage: 'SKIP', skipAmount: find.skip, inputStage: stage };
  if (limit && sorted) stage = { stage: 'LIMIT', limitAmount: limit, inputStage: stage };
  if (find.projection && Object.keys(find.projection).length > 0) {
    const simple = Object.entries(find.projection).every(
      ([field, v]) => !field.includes('.') && (typeof v === 'number' || typeof v === 'boolean'),
    );
    stage = { stage: simple ? 'PROJECTION_SIMPLE' : 'PROJECTION_DEFAULT', transformBy: find.projection, inputStage: stage };
  }
  return stage;
}
