import { copyDocument } from 'actionlog/adapter-kit';
import { applyUpdate } from './apply-update.js';
import { asStored, idOf, ignoresUndefined, plainOf } from './model-info.js';
import type { AnyModel, AnyQuery, Raw } from './mongoose-types.js';
import type { ChangeRecorder } from './recorder.js';

interface Cursor {
  toArray(): Promise<Raw[]>;
}

export interface ReadOptions {
  limit?: number;
  sort?: unknown;
  collation?: unknown;
  session?: unknown;
  /** Read omitted paths too (to tell whether a write changed anything). */
  whole?: boolean;
}

/**
 * Whole stored documents, through the driver: a filter already cast, no Mongoose query to build, and no
 * middleware (neither this capture's nor soft-delete hiding). Buffered like any operation before connecting.
 */
export class StoredDocuments {
  private readonly projections = new WeakMap<AnyModel, Raw | undefined>();

  constructor(private readonly recorder: ChangeRecorder) {}

  async read(model: AnyModel, filter: Raw, options: ReadOptions): Promise<Raw[]> {
    const driverOptions: Raw = {};
    const projection = options.whole ? undefined : this.projectionFor(model);
    if (projection) driverOptions.projection = projection;
    if (options.limit !== undefined) driverOptions.limit = options.limit;
    if (options.sort) driverOptions.sort = options.sort;
    if (options.collation) driverOptions.collation = options.collation;
    if (options.session) driverOptions.session = options.session;
    // Mongoose's collection answers with a promise of the cursor while it buffers (before connecting).
    const collection = model.collection as unknown as { find(filter: Raw, options: Raw): Cursor | Promise<Cursor> };
    const cursor = await collection.find(filter, driverOptions);
    return cursor.toArray();
  }

  async readById(model: AnyModel, id: unknown, session: unknown): Promise<Raw | null> {
    return (await this.read(model, { _id: id }, { limit: 1, session }))[0] ?? null;
  }

  /** New states by id: computed from the update where exact, read back by `_id` where not. */
  async statesAfter(
    model: AnyModel,
    befores: Raw[],
    update: Raw | null,
    session: unknown,
    whole = false,
  ): Promise<Map<string | null, Raw>> {
    const out = new Map<string | null, Raw>();
    const unknown: unknown[] = [];
    // Mongoose's cast values (a subdocument, a Mongoose array) are compared as what they store: `undefined` as the
    // driver stores it (null, unless the connection ignores it).
    const plain = update ? (asStored(plainOf(update), ignoresUndefined(model)) as Raw) : null;
    for (const before of befores) {
      const computed = plain ? applyUpdate(before, plain) : undefined;
      if (computed) out.set(idOf(before), computed);
      else unknown.push(before._id);
    }
    if (unknown.length > 0) {
      for (const doc of await this.read(model, { _id: { $in: unknown } }, { session, whole })) out.set(idOf(doc), doc);
    }
    return out;
  }

  /** Omitted paths are not read at all (a path inside another omitted one would collide). Worked out once per model. */
  projectionFor(model: AnyModel): Raw | undefined {
    if (this.projections.has(model)) return this.projections.get(model);
    const omit = this.recorder.omitFor(model) ?? [];
    const top = omit.filter((path) => path !== '_id' && !omit.some((other) => path.startsWith(`${other}.`)));
    const projection = top.length > 0 ? Object.fromEntries(top.map((path) => [path, 0])) : undefined;
    this.projections.set(model, projection);
    return projection;
  }
}

/**
 * The query's filter cast to its schema (ObjectIds, dates...), its aliases translated where Mongoose translates them
 * (`translateAliases`, which it applies only as the query runs), as Mongoose sends it; the query is left alone.
 */
export function castFilter(query: AnyQuery): Raw {
  const filter = copyDocument(query.getFilter());
  // In place (its second argument), as Mongoose does to the query's own filter.
  if (translatesAliases(query))
    (query.model as unknown as { translateAliases(raw: unknown, inPlace: boolean): unknown }).translateAliases(filter, true);
  return query.cast(query.model, filter) as Raw;
}

/** Whether Mongoose translates the aliases of this query: its option, else its schema's, else the connection's. */
function translatesAliases(query: AnyQuery): boolean {
  const own = (query as unknown as { _mongooseOptions: { translateAliases?: boolean } })._mongooseOptions;
  if (own.translateAliases !== undefined) return own.translateAliases;
  const model = query.model as unknown as {
    schema: { _userProvidedOptions?: { translateAliases?: boolean } };
    base?: { options?: { translateAliases?: boolean } };
  };
  return model.schema._userProvidedOptions?.translateAliases ?? model.base?.options?.translateAliases ?? false;
}

/** The session of `connection.transaction()` when Mongoose's `transactionAsyncLocalStorage` is on. */
export function sessionFromStorage(model: AnyModel): unknown {
  const base = (model.db as unknown as { base?: { transactionAsyncLocalStorage?: { getStore(): { session?: unknown } | undefined } } })
    .base;
  return base?.transactionAsyncLocalStorage?.getStore()?.session ?? null;
}
