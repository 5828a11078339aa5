/*
 * Every place actionlog reaches into Mongoose or the MongoDB driver past their documented API, in one file.
 * Each is installed once per object it changes and leaves the object working as before for everyone else.
 * Checked with Mongoose 9.12 and the mongodb driver 7.x; should an internal be missing, the capture falls back
 * to documented calls (reading before the write) or records nothing and reports why.
 */
import type { Schema } from 'mongoose';
import type { CollectionMethod, Raw } from './mongoose-types.js';

/**
 * Mongoose 9 `Query#mongooseCollection` (internal): the collection a query sends its command through. Replaced
 * for this one query by a view whose `op` calls `send` (which restores it first), so that `updateOne`,
 * `replaceOne`, `deleteOne` and `findOneAnd*` go out as the findAndModify this capture asks for. False when the
 * internal is not there.
 */
export function sendQueryThrough(
  query: object,
  op: string,
  alternative: string,
  send: (collection: Record<string, CollectionMethod>, filter: Raw, ...args: unknown[]) => Promise<unknown>,
): boolean {
  const q = query as { mongooseCollection?: Record<string, CollectionMethod | undefined> };
  const collection = q.mongooseCollection;
  if (typeof collection?.[op] !== 'function' || typeof collection[alternative] !== 'function') return false;
  const view = Object.create(collection, {
    [op]: {
      value: (filter: Raw, ...args: unknown[]) => {
        q.mongooseCollection = collection;
        return send(collection as Record<string, CollectionMethod>, filter, ...args);
      },
    },
  }) as Record<string, CollectionMethod | undefined>;
  q.mongooseCollection = view;
  return true;
}

const BULK = Symbol.for('actionlog.bulk-write');
const wrappedCollections = new WeakSet<object>();

/**
 * Mongoose's `bulkWrite` middleware (8.2+) sees the operations before they are cast; its collection wrapper's
 * `bulkWrite` sees them cast. `handOver` (Mongoose internal `base.overwriteMiddlewareArguments`) passes `audit`
 * from the middleware to the collection, whose `bulkWrite` is wrapped once to run `around` the write.
 */
export function handBulkWriteTo<Audit>(
  model: { base: unknown; collection: unknown },
  ops: unknown[],
  options: Raw | undefined,
  audit: Audit,
  around: (audit: Audit, ops: Raw[], options: Raw, write: () => Promise<Raw>) => Promise<Raw>,
): unknown {
  const collection = model.collection as Raw;
  if (!wrappedCollections.has(collection)) {
    wrappedCollections.add(collection);
    const original = collection.bulkWrite as (ops: Raw[], options?: Raw) => Promise<Raw>;
    collection.bulkWrite = function bulkWrite(ops: Raw[], options: Raw | undefined) {
      const given = options?.[BULK as unknown as string] as Audit | undefined;
      if (given === undefined) return original.call(collection, ops, options);
      const { [BULK as unknown as string]: _, ...clean } = options as Raw;
      return around(given, ops, clean, () => original.call(collection, ops, clean));
    };
  }
  const base = model.base as { overwriteMiddlewareArguments(...args: unknown[]): unknown };
  return base.overwriteMiddlewareArguments(ops, Object.assign({}, options, { [BULK]: audit }));
}

/** The parts of a driver ClientSession watched. */
export interface SessionLike {
  inTransaction(): boolean;
  startTransaction(...args: unknown[]): unknown;
  commitTransaction(...args: unknown[]): Promise<unknown>;
  abortTransaction(...args: unknown[]): Promise<unknown>;
}

const watchedSessions = new WeakSet<object>();

/**
 * Driver `ClientSession`: its transaction methods, wrapped once per session (not on the prototype: Mongoose may
 * bring its own copy of the driver). The driver's `withTransaction` calls them through `this`, so retries are seen.
 */
export function watchTransactions(
  session: SessionLike,
  on: { started(): void; aborted(): void; committing(): Promise<void>; committed(): void },
): void {
  if (watchedSessions.has(session)) return;
  watchedSessions.add(session);
  const start = session.startTransaction.bind(session);
  const commit = session.commitTransaction.bind(session);
  const abort = session.abortTransaction.bind(session);
  session.startTransaction = (...args: unknown[]) => {
    on.started();
    return start(...args);
  };
  session.abortTransaction = async (...args: unknown[]) => {
    on.aborted();
    return abort(...args);
  };
  session.commitTransaction = async (...args: unknown[]) => {
    try {
      await on.committing();
    } catch (error) {
      // Not committed without what must be stored first: the transaction is aborted, and the error told apart from
      // the driver's own, since the driver's withTransaction asks every commit error for its labels.
      await abort().catch(() => undefined);
      on.aborted();
      if (error instanceof Error) throw Object.assign(error, { hasErrorLabel: () => false });
      throw new Error(String(error), { cause: error });
    }
    const result = await commit(...args);
    on.committed();
    return result;
  };
}

/** Mongoose's internals of a document used here. */
interface DocumentInternals {
  $op?: string | null;
  $__: { savedState?: Record<string, unknown> };
  $__getValue(path: string): unknown;
}

/**
 * Mongoose 9 `$__.savedState` (internal): once it exists, Mongoose keeps there the value each top-level path had
 * before its first change (set, `markModified`, array or subdocument change) until the next save. Started when a
 * document loads, so `save()` knows the old state without a read; Mongoose replaces it after each save.
 */
export function keepInitialValues(doc: object): void {
  (doc as DocumentInternals).$__.savedState ??= {};
}

type MarkModified = (this: DocumentInternals, path: string, ...rest: unknown[]) => unknown;
const watchedMarkModified = new WeakSet<object>();

/**
 * Mongoose 9 `Document.prototype.markModified(path)` takes the initial value of `path`'s top-level path into
 * `$__.savedState` when it is not there yet (`$__saveInitialState`): after a change in place, the value is the
 * changed one. Wrapped once per copy of Mongoose (the prototype that owns it, found from `from`: a document or
 * that copy's `Document.prototype`), it calls `taken` with the document and `path` when that call took it;
 * Mongoose's `set()` takes it before changing the value.
 */
export function watchMarkModified(from: object, taken: (doc: object, path: string) => void): void {
  let owner: object | null = from;
  while (owner && !Object.hasOwn(owner, 'markModified')) owner = Object.getPrototypeOf(owner) as object | null;
  if (!owner || watchedMarkModified.has(owner)) return;
  watchedMarkModified.add(owner);
  const proto = owner as { markModified: MarkModified };
  const original = proto.markModified;
  proto.markModified = function markModified(this: DocumentInternals, path: string, ...rest: unknown[]) {
    const saved = (this.$__ as DocumentInternals['$__'] | undefined)?.savedState;
    const top = typeof path === 'string' ? path.split('.', 1)[0] : undefined;
    const fresh = saved !== undefined && top !== undefined && !Object.hasOwn(saved, top);
    const result = original.call(this, path, ...rest);
    if (fresh && Object.hasOwn(saved, top)) taken(this, path);
    return result;
  };
}

/**
 * The `Document.prototype` of the copy of Mongoose that made `schema`: Mongoose 9 sets `Schema.prototype.base`
 * (internal) to its instance, whose `Document` is public. Undefined when it is not there.
 */
export function documentPrototypeOf(schema: object): object | undefined {
  const base = (schema as { base?: { Document?: { prototype?: unknown } } }).base;
  const proto = base?.Document?.prototype;
  return proto !== null && typeof proto === 'object' ? proto : undefined;
}

/** The record `keepInitialValues` started (the object Mongoose adds to until the save ends), or undefined. */
export function initialValuesOf(doc: object): Record<string, unknown> | undefined {
  return (doc as DocumentInternals).$__.savedState;
}

/** A path's value as stored in the document, without getters (Mongoose internal `$__getValue`). */
export function storedValueOf(doc: object, path: string): unknown {
  return (doc as DocumentInternals).$__getValue(path);
}

/**
 * Mongoose 9 `Model.prototype.save()` sets `$op = 'save'` before running the pre-save hooks; `Model.bulkSave()`
 * runs them without, and writes through `bulkWrite()` instead.
 */
export function isInSave(doc: object): boolean {
  return (doc as DocumentInternals).$op === 'save';
}

/**
 * The schema of one subdocument value of `schema`: with embedded discriminators, the one its discriminator key
 * names, found as Mongoose 9's `getDiscriminatorByValue` does (`discriminatorMapping.value`, internal), or by name.
 */
export function subdocumentSchemaOf(schema: Schema, value: unknown): Schema {
  const discriminators = schema.discriminators;
  if (!discriminators || value === null || typeof value !== 'object') return schema;
  const name = (value as Raw)[schema.get('discriminatorKey') ?? '__t'];
  if (typeof name !== 'string' && typeof name !== 'number') return schema;
  const mapped = Object.values(discriminators).find(
    (d) => (d as { discriminatorMapping?: { value?: unknown } }).discriminatorMapping?.value === name,
  );
  return mapped ?? discriminators[String(name)] ?? schema;
}
