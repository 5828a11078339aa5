import { EJSON, ObjectId, type Document } from 'bson';
import { Query } from 'mingo';
import { DuplicateKeyError, indexKeySpecsConflict, indexOptionsConflict, writeConflict } from './errors.js';

/** Canonical string of a value for keys (type-aware: ObjectId('a…') and 'a…' differ, as in MongoDB). */
export function keyOf(value: unknown): string {
  return EJSON.stringify({ v: value ?? null }, { relaxed: false });
}

export interface IndexSpec {
  v: 2;
  key: Record<string, number | string>;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Document;
  /** Text indexes: the indexed fields with their weights, the language options and the version. */
  weights?: Record<string, number>;
  default_language?: string;
  language_override?: string;
  textIndexVersion?: number;
}

/** The value at a dotted path, or undefined. */
export function getPath(doc: Document, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** One clock for all writes, so a transaction's snapshot is a single point in time. */
let clock = 0;
export const now = () => clock;

/** A collection: documents by `_id`, versions for transaction conflicts, indexes with unique ones enforced. */
export class Collection {
  readonly docs = new Map<string, Document>();
  readonly versions = new Map<string, number>();
  indexes: IndexSpec[] = [{ v: 2, key: { _id: 1 }, name: '_id_' }];
  /** Per unique index: index key → `_id` key of the owner. */
  private readonly owners = new Map<string, Map<string, string>>([['_id_', new Map()]]);

  constructor(readonly ns: string) {}

  /** The index key of `doc` under a unique index, or undefined when the index does not cover it. */
  uniqueKey(spec: IndexSpec, doc: Document): string | undefined {
    const fields = Object.keys(spec.key);
    const values = fields.map((f) => getPath(doc, f));
    if (spec.sparse && values.every((v) => v === undefined)) return undefined;
    if (spec.partialFilterExpression && !new Query(spec.partialFilterExpression).test(doc)) return undefined;
    return keyOf(values.map((v) => v ?? null));
  }

  uniqueIndexes(): IndexSpec[] {
    return this.indexes.filter((i) => i.unique || i.name === '_id_');
  }

  /** Who holds `key` in a unique index, by `_id` key. */
  ownerOf(spec: IndexSpec, key: string): string | undefined {
    return this.owners.get(spec.name)?.get(key);
  }

  /** The error of a second document with an `_id` already stored (the `_id_` index comes first). */
  duplicateId(doc: Document): Error {
    const index = this.indexes[0];
    if (!index) throw new Error('a collection without its _id index');
    return this.duplicate(index, doc);
  }

  duplicate(spec: IndexSpec, doc: Document): DuplicateKeyError {
    const keyPattern = Object.fromEntries(Object.keys(spec.key).map((k) => [k, Number(spec.key[k]) || 1]));
    const keyValue = Object.fromEntries(Object.keys(spec.key).map((k) => [k, getPath(doc, k) ?? null]));
    return new DuplicateKeyError(this.ns, spec.name, keyPattern, keyValue);
  }

  /** Stores `doc` under `id`, after checking every unique index. */
  put(id: string, doc: Document): void {
    const previous = this.docs.get(id);
    for (const spec of this.uniqueIndexes()) {
      const key = this.uniqueKey(spec, doc);
      if (key === undefined) continue;
      const owner = this.ownerOf(spec, key);
      if (owner !== undefined && owner !== id) throw this.duplicate(spec, doc);
    }
    if (previous) this.unindex(id, previous);
    this.docs.set(id, doc);
    this.versions.set(id, ++clock);
    this.index(id, doc);
  }

  remove(id: string): void {
    const previous = this.docs.get(id);
    if (!previous) return;
    this.unindex(id, previous);
    this.docs.delete(id);
    this.versions.set(id, ++clock);
  }

  /** Adds an index; the same spec again is a no-op; a name or key clash with another spec or name is an error. */
  createIndex(spec: IndexSpec): boolean {
    const sameName = this.indexes.find((i) => i.name === spec.name);
    const sameKey = this.indexes.find((i) => keyOf(i.key) === keyOf(spec.key));
    const options = (i: IndexSpec) =>
      keyOf({
        u: !!i.unique,
        s: !!i.sparse,
        e: i.expireAfterSeconds ?? null,
        p: i.partialFilterExpression ?? null,
        w: i.weights ?? null,
        l: i.default_language ?? null,
        o: i.language_override ?? null,
      });
    if (sameName) {
      if (keyOf(sameName.key) !== keyOf(spec.key))
        throw indexKeySpecsConflict(`An existing index has the same name as the requested index: ${spec.name}`);
      if (options(sameName) !== options(spec))
        throw indexOptionsConflict(`An existing index has the same name as the requested index but different options: ${spec.name}`);
      return false;
    }
    if (sameKey) {
      // Every text index has the key { _fts, _ftsx }: a second one is an equivalent index too, as in MongoDB.
      if (options(sameKey) !== options(spec))
        throw indexOptionsConflict(`An equivalent index already exists with a different name and options: ${sameKey.name}`);
      throw indexOptionsConflict(`Index already exists with a different name: ${sameKey.name}`);
    }
    if (spec.unique) {
      const owners = new Map<string, string>();
      for (const [id, doc] of this.docs) {
        const key = this.uniqueKey(spec, doc);
        if (key === undefined) continue;
        if (owners.has(key)) throw this.duplicate(spec, doc);
        owners.set(key, id);
      }
      this.owners.set(spec.name, owners);
    }
    this.indexes.push(spec);
    return true;
  }

  dropIndex(name: string): void {
    this.indexes = this.indexes.filter((i) => i.name !== name);
    this.owners.delete(name);
  }

  private ownersOf(index: string): Map<string, string> {
    let owners = this.owners.get(index);
    if (!owners) {
      owners = new Map();
      this.owners.set(index, owners);
    }
    return owners;
  }

  private index(id: string, doc: Document): void {
    for (const spec of this.uniqueIndexes()) {
      const key = this.uniqueKey(spec, doc);
      if (key !== undefined) this.ownersOf(spec.name).set(key, id);
    }
  }

  private unindex(id: string, doc: Document): void {
    for (const spec of this.uniqueIndexes()) {
      const key = this.uniqueKey(spec, doc);
      const owners = this.ownersOf(spec.name);
      if (key !== undefined && owners.get(key) === id) owners.delete(key);
    }
  }
}

/** What commands read and write through: the collection itself, or a transaction's view of it. */
export interface CollectionView {
  readonly ns: string;
  readonly collection: Collection;
  all(): Document[];
  get(id: string): Document | undefined;
  insert(doc: Document): void;
  replace(id: string, doc: Document): void;
  remove(id: string): void;
}

/** MongoDB stores `_id` first, and makes one when the document has none. */
function withIdFirst(doc: Document): Document {
  const { _id, ...rest } = doc;
  return { _id: (_id as unknown) ?? new ObjectId(), ...rest };
}

export function idOf(doc: Document): string {
  return keyOf(doc._id);
}

/** Writes straight to the collection. */
export class DirectView implements CollectionView {
  constructor(readonly collection: Collection) {}
  get ns() {
    return this.collection.ns;
  }
  all(): Document[] {
    return [...this.collection.docs.values()];
  }
  get(id: string) {
    return this.collection.docs.get(id);
  }
  insert(doc: Document): void {
    doc = withIdFirst(doc);
    const id = idOf(doc);
    if (this.collection.docs.has(id)) throw this.collection.duplicateId(doc);
    this.collection.put(id, doc);
  }
  replace(id: string, doc: Document): void {
    this.collection.put(id, doc);
  }
  remove(id: string): void {
    this.collection.remove(id);
  }
}

/**
 * A transaction's view: its writes kept aside (document by document) over the collection, applied at commit.
 * As in MongoDB, writing a document changed by someone else since the transaction started fails with
 * WriteConflict (labelled TransientTransactionError), at the write and again at commit. Unlike MongoDB,
 * reads see the latest committed data rather than the snapshot of the transaction's start.
 */
export class TransactionView implements CollectionView {
  readonly writes = new Map<string, Document | null>();

  constructor(
    readonly collection: Collection,
    private readonly snapshot: number,
  ) {}

  get ns() {
    return this.collection.ns;
  }

  all(): Document[] {
    const out: Document[] = [];
    for (const [id, doc] of this.collection.docs) {
      const written = this.writes.get(id);
      if (!this.writes.has(id)) out.push(doc);
      else if (written) out.push(written);
    }
    for (const [id, doc] of this.writes) if (doc && !this.collection.docs.has(id)) out.push(doc);
    return out;
  }

  get(id: string) {
    return this.writes.has(id) ? (this.writes.get(id) ?? undefined) : this.collection.docs.get(id);
  }

  insert(doc: Document): void {
    doc = withIdFirst(doc);
    const id = idOf(doc);
    if (this.get(id)) throw this.collection.duplicateId(doc);
    this.write(id, doc);
  }

  replace(id: string, doc: Document): void {
    this.write(id, doc);
  }

  remove(id: string): void {
    this.assertUnchanged(id);
    this.writes.set(id, null);
  }

  /** Checks that nothing this transaction wrote changed since it started, then applies its writes. */
  commit(): void {
    for (const id of this.writes.keys()) this.assertUnchanged(id);
    const undo: Array<[string, Document | undefined]> = [];
    try {
      for (const [id, doc] of this.writes) {
        undo.push([id, this.collection.docs.get(id)]);
        if (doc) this.collection.put(id, doc);
        else this.collection.remove(id);
      }
    } catch (error) {
      for (const [id, before] of undo.reverse()) {
        if (before) this.collection.put(id, before);
        else this.collection.remove(id);
      }
      throw error instanceof DuplicateKeyError ? writeConflict() : error;
    }
  }

  private write(id: string, doc: Document): void {
    for (const spec of this.collection.uniqueIndexes()) {
      const key = this.collection.uniqueKey(spec, doc);
      if (key === undefined) continue;
      for (const other of this.all()) {
        if (idOf(other) !== id && this.collection.uniqueKey(spec, other) === key) throw this.collection.duplicate(spec, doc);
      }
    }
    this.assertUnchanged(id);
    this.writes.set(id, doc);
  }

  private assertUnchanged(id: string): void {
    if ((this.collection.versions.get(id) ?? 0) > this.snapshot) throw writeConflict();
  }
}

export class Database {
  readonly collections = new Map<string, Collection>();
  constructor(readonly name: string) {}

  collectionOrCreate(name: string): Collection {
    let c = this.collections.get(name);
    if (!c) {
      c = new Collection(`${this.name}.${name}`);
      this.collections.set(name, c);
    }
    return c;
  }

  collection(name: string, create = true): Collection | undefined {
    return create ? this.collectionOrCreate(name) : this.collections.get(name);
  }
}
