import type { Document, Model } from 'mongoose';

type AnyModel = Model<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Raw = Record<string, unknown>;

/**
 * What is stored of a document: its fields as saved (no getters, virtuals or transforms; populated refs as ids; fields
 * outside the schema too, whatever the schema's own `toObject` says). Empty objects go as `minimize` has them saved.
 */
const TO_OBJECT = {
  depopulate: true,
  getters: false,
  virtuals: false,
  versionKey: true,
  transform: false,
  flattenMaps: true,
  schemaFieldsOnly: false,
} as const;

const isPlainRecord = (value: unknown): value is Raw => {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * A fresh plain copy of a Mongoose document, or of a value inside one or inside a plain object: Mongoose's
 * documents, subdocuments and arrays as stored, Dates copied, other values (ObjectIds...) as they are. Values
 * reach here once the driver has serialized them, so they hold no cycles.
 */
export function plainOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const v = value as { toObject?: (o: object) => unknown };
  if (typeof v.toObject === 'function' && !('_bsontype' in v)) return v.toObject(TO_OBJECT);
  if (value instanceof Date) return new Date(value.getTime());
  if (Array.isArray(value)) return value.map(plainOf);
  if (!isPlainRecord(value)) return value;
  // fromEntries defines own properties, so a stored `__proto__` key stays a key.
  return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, plainOf(member)]));
}

/**
 * A plain document (a lean insert) as the driver stores it, copied: `undefined` is stored as null (in an array
 * always; in an object unless the client is set to ignore it), functions are not stored.
 */
export function asStored(value: unknown, ignoreUndefined: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : asStored(item, ignoreUndefined)));
  if (!isPlainRecord(value)) return plainOf(value);
  const out: Raw = {};
  for (const [key, member] of Object.entries(value)) {
    if (typeof member === 'function' || (member === undefined && ignoreUndefined)) continue;
    // Written as an own property: a stored `__proto__` key stays a key.
    Object.defineProperty(out, key, {
      value: member === undefined ? null : asStored(member, ignoreUndefined),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Whether the model's client leaves `undefined` values out of what it stores (`ignoreUndefined`). */
export function ignoresUndefined(model: AnyModel): boolean {
  const client = model.db.getClient() as { bsonOptions?: { ignoreUndefined?: boolean } } | undefined;
  return client?.bsonOptions?.ignoreUndefined === true;
}

/** A document as it stores itself. */
export function docState(doc: Document): Raw {
  return doc.toObject(TO_OBJECT) as Raw;
}

/** The model a stored document belongs to: a discriminator's own model when the query ran on the base model. */
export function modelOfDoc(model: AnyModel, raw: Raw): AnyModel {
  const key: string | undefined = model.schema.get('discriminatorKey');
  const value = key ? raw[key] : undefined;
  if (value === undefined || !model.discriminators) return model;
  for (const child of Object.values(model.discriminators)) {
    const mapping = (child.schema as unknown as { discriminatorMapping?: { value?: unknown } }).discriminatorMapping;
    if (mapping?.value === value) return child as AnyModel;
  }
  return model;
}

export interface ModelInfo {
  model: string;
  model_class_name: string;
  model_namespace: string;
}

const infos = new WeakMap<AnyModel, ModelInfo>();

export function infoOf(model: AnyModel): ModelInfo {
  let info = infos.get(model);
  if (!info) {
    const collection = model.collection.collectionName;
    info = { model: collection, model_class_name: model.modelName, model_namespace: `${model.db.name}.${collection}` };
    // Kept once the connection knows its database (it does by the time a write has succeeded).
    if (model.db.name) infos.set(model, info);
  }
  return info;
}

export function idOf(raw: Raw | null | undefined): string | null {
  const id = raw?._id;
  if (id === undefined || id === null) return null;
  if (typeof id === 'string') return id;
  if (typeof id === 'number' || typeof id === 'bigint' || typeof id === 'boolean') return String(id);
  // ObjectIds and other BSON ids print as their value.
  return (id as { toString(): string }).toString();
}
