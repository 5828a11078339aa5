import { ObjectId, type Document } from 'bson';
import { updateOne } from 'mingo';
import { badValue, CommandError, immutableField, notImplemented } from './errors.js';
import { keyOf } from './storage.js';
import { copyDocument } from 'actionlog/adapter-kit';

const UPDATE_OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$push',
  '$addToSet',
  '$pull',
  '$pullAll',
  '$pop',
  '$currentDate',
  '$bit',
  '$setOnInsert',
]);

function isOperatorUpdate(u: Document): boolean {
  const keys = Object.keys(u);
  const ops = keys.filter((k) => k.startsWith('$'));
  if (ops.length > 0 && ops.length !== keys.length) throw badValue('an update mixes update operators and fields');
  return ops.length > 0;
}

/**
 * The document after applying `u` (operators, a replacement, or a pipeline) to `doc`. `condition` resolves the
 * positional `$` operator; `inserting` applies `$setOnInsert`. The input document is never changed.
 */
export function applyUpdate(
  doc: Document,
  u: Document | Document[],
  options: { arrayFilters?: Document[]; condition?: Document; inserting: boolean },
): Document {
  let next: Document;
  if (Array.isArray(u)) {
    for (const stage of u as Document[]) {
      const name = Object.keys(stage)[0] ?? '';
      if (!['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith'].includes(name))
        throw badValue(`${name} is not allowed in an update pipeline`);
    }
    const docs = [copyDocument(doc)];
    updateOne(docs, {}, u as never);
    next = docs[0] ?? doc;
  } else if (isOperatorUpdate(u)) {
    const ops: Record<string, Document> = {};
    for (const [op, args] of Object.entries(u) as Array<[string, unknown]>) {
      if (!UPDATE_OPERATORS.has(op)) throw new CommandError(9, 'FailedToParse', `Unknown modifier: ${op}`);
      assertKeepsId(op, args, doc, options.inserting);
      const fields = args as Document;
      if (op === '$setOnInsert') {
        if (options.inserting) ops.$set = { ...(ops.$set ?? {}), ...fields };
        continue;
      }
      ops[op] = op === '$set' && ops.$set ? { ...ops.$set, ...fields } : fields;
    }
    const docs = [copyDocument(doc)];
    if (Object.keys(ops).length > 0) {
      try {
        updateOne(docs, options.inserting ? {} : (options.condition ?? {}), ops as never, { arrayFilters: options.arrayFilters });
      } catch (error) {
        throw badValue(`update failed: ${(error as Error).message}`);
      }
    }
    next = docs[0] ?? doc;
  } else {
    next = { ...copyDocument(u) };
    if (doc._id !== undefined) {
      if (next._id !== undefined && keyOf(next._id) !== keyOf(doc._id)) {
        throw immutableField("After applying the update, the (immutable) field '_id' was found to have been altered");
      }
      // MongoDB keeps _id first.
      next = { _id: doc._id as unknown, ...next };
    }
  }
  if (doc._id !== undefined && keyOf(next._id) !== keyOf(doc._id)) {
    throw immutableField("Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  return next;
}

/** `_id` may only be set to what it already is (or on insert). */
function assertKeepsId(op: string, args: unknown, doc: Document, inserting: boolean): void {
  const fields = (args ?? {}) as Document;
  for (const path of Object.keys(fields)) {
    if (path !== '_id' && !path.startsWith('_id.')) continue;
    const unchanged = op === '$set' && path === '_id' && (inserting || keyOf(fields[path]) === keyOf(doc._id));
    if (!unchanged) throw immutableField("Performing an update on the path '_id' would modify the immutable field '_id'");
  }
}

/** Fields an upsert's new document takes from the query: its equality conditions, `$and` included. */
export function equalityFields(query: Document): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const part of value) Object.assign(out, equalityFields(part as Document));
      continue;
    }
    if (key.startsWith('$')) continue;
    let v: unknown = value;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype) {
      const keys = Object.keys(v);
      if (keys.some((k) => k.startsWith('$'))) {
        if (keys.length === 1 && keys[0] === '$eq') v = (v as Document).$eq;
        else continue;
      }
    }
    setPath(out, key, copyDocument(v));
  }
  return out;
}

function setPath(target: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target;
  for (const part of parts.slice(0, -1)) {
    if (cur[part] === null || typeof cur[part] !== 'object') cur[part] = {};
    cur = cur[part] as Document;
  }
  cur[parts[parts.length - 1] ?? path] = value;
}

/** The document an upsert inserts. */
export function upsertDocument(query: Document, u: Document | Document[], arrayFilters?: Document[]): Document {
  const base = equalityFields(query);
  let doc: Document;
  if (!Array.isArray(u) && !isOperatorUpdate(u)) {
    doc = { ...copyDocument(u) };
    if (base._id !== undefined) {
      if (doc._id !== undefined && keyOf(doc._id) !== keyOf(base._id)) throw immutableField('The _id field cannot be changed');
      doc._id = base._id as unknown;
    }
  } else {
    doc = applyUpdate(base, u, { arrayFilters, inserting: true });
  }
  if (doc._id === undefined) doc = { _id: new ObjectId(), ...doc };
  return doc;
}

export function assertSupportedStatement(statement: Document, allowed: readonly string[]): void {
  for (const key of Object.keys(statement)) {
    if (!allowed.includes(key)) throw notImplemented(`the '${key}' option of an update or delete statement`);
  }
}
