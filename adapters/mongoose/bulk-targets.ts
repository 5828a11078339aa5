import { asStored, idOf, ignoresUndefined } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import type { StoredDocuments } from './reads.js';

/** One operation of a bulk, as the collection receives it (cast by Mongoose). */
export interface BulkOp {
  kind: string;
  args: Raw;
}

/** What a bulk may touch, read before it runs. */
export interface BulkTargets {
  /** The stored state of every document an operation may touch, by id, in the order the operations name them. */
  before: Map<string | null, Raw>;
  /** Per operation: the ids of the documents read for it. */
  ids: Array<Array<string | null>>;
  /** Operations matching more than `maxDocumentsPerQuery` documents, recorded as a summary. */
  overflow: Set<number>;
}

export function opsOf(ops: Raw[]): BulkOp[] {
  return ops.map((op) => {
    const [kind, args] = Object.entries(op)[0] ?? ['', {}];
    return { kind, args: args as Raw };
  });
}

const isOperatorObject = (value: unknown) =>
  value !== null && typeof value === 'object' && Object.keys(value).some((key) => key.startsWith('$'));

/** The `_id` an operation's filter names exactly, if it does (`{ _id: x }`, `{ _id: { $eq: x } }`, plus other conditions). */
export function idNamed(filter: unknown): { id: unknown } | undefined {
  if (filter === null || typeof filter !== 'object' || !Object.hasOwn(filter, '_id')) return undefined;
  const id = (filter as Raw)._id;
  if (!isOperatorObject(id)) return { id };
  const keys = Object.keys(id as Raw);
  return keys.length === 1 && keys[0] === '$eq' ? { id: (id as Raw).$eq } : undefined;
}

/** The `_id` of an inserted document, once the driver has given it one. */
export function insertedId(op: BulkOp): unknown {
  const doc = op.args.document as { _id?: unknown } | undefined;
  return doc?._id;
}

/** An inserted document as sent: a Mongoose document as it stores itself, a plain one as the driver stores it. */
export function sentDocument(model: AnyModel, op: BulkOp): Raw {
  return asStored(op.args.document, ignoresUndefined(model)) as Raw;
}

/**
 * Reads what each operation may touch before the bulk runs: documents named by `_id` (and inserts that name one)
 * in one read; other filters one read each, all matches up to `maxDocumentsPerQuery` when an earlier operation
 * may have changed which document comes first, else the first match. Every document an operation touches is then
 * among those read, or inserted by the bulk itself.
 */
export async function readTargets(
  reads: StoredDocuments,
  model: AnyModel,
  ops: BulkOp[],
  limits: { max: number; session: unknown },
): Promise<BulkTargets> {
  const named = ops.map((op) =>
    op.kind === 'insertOne' ? (insertedId(op) === undefined ? undefined : { id: insertedId(op) }) : idNamed(op.args.filter),
  );
  const byId = named.filter((n) => n !== undefined).map((n) => n.id);
  const [idDocs, ...filtered] = await Promise.all([
    byId.length > 0 ? reads.read(model, { _id: { $in: byId } }, { session: limits.session }) : [],
    ...ops.map((op, i) => {
      if (op.kind === 'insertOne' || named[i]) return [];
      const earlier = ops.slice(0, i).some((o) => o.kind !== 'insertOne');
      const limit = op.kind.endsWith('Many') || earlier ? limits.max + 1 : 1;
      const filter = (op.args.filter ?? {}) as Raw;
      return reads.read(model, filter, { limit, sort: op.args.sort, collation: op.args.collation, session: limits.session });
    }),
  ]);
  const found = new Map(idDocs.map((doc) => [idOf(doc), doc]));
  const targets: BulkTargets = { before: new Map(), ids: [], overflow: new Set() };
  for (const [i, op] of ops.entries()) {
    const docs = named[i] ? [found.get(idOf({ _id: named[i].id }))].filter((d) => d !== undefined) : (filtered[i] ?? []);
    if (op.kind.endsWith('Many') && docs.length > limits.max) {
      targets.overflow.add(i);
      targets.ids.push([]);
      continue;
    }
    targets.ids.push(docs.map((doc) => idOf(doc)));
    for (const doc of docs) if (!targets.before.has(idOf(doc))) targets.before.set(idOf(doc), doc);
  }
  return targets;
}
