/* The stored states around save() of a loaded document, from what Mongoose kept since loading it. */

import { sameValue } from 'actionlog/adapter-kit';
import type { Document, Schema } from 'mongoose';
import { plainOf } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import {
  documentPrototypeOf,
  initialValuesOf,
  keepInitialValues,
  storedValueOf,
  subdocumentSchemaOf,
  watchMarkModified,
} from './patches.js';

/** What save() of a loaded document knows of the stored state without reading it. */
export interface LoadedState {
  /** Mongoose's initial values of the top-level paths changed since load; it adds to this object until the save ends. */
  saved: Record<string, unknown>;
  /** Paths Mongoose gave their default when loading: absent from the stored document, written by the next save. */
  defaulted: readonly string[];
  versionKey: string | null;
  version: unknown;
  schema: Schema;
}

/** The parts of a Mongoose schema type read here. */
interface SchemaTypeLike {
  instance?: string;
  options?: { ref?: unknown; refPath?: unknown };
  /** The type of an array's members. */
  embeddedSchemaType?: SchemaTypeLike;
  /** The schema of a single-nested subdocument or of a document array's members. */
  schema?: Schema;
}

const defaultedAtLoad = new WeakMap<object, string[]>();
/** Top-level paths whose initial value Mongoose took in `markModified()` of a value that changes in place. */
const takenByMarkModified = new WeakMap<object, Set<string>>();

const schemaOf = (doc: Document): Schema => (doc.constructor as AnyModel).schema;

/**
 * When the plugin is applied to a schema: `markModified()` is watched from then on, for documents loaded and for
 * those created and saved (Mongoose keeps their initial values after their first save, before any load).
 */
export function watchInPlaceMarks(schema: Schema): void {
  const proto = documentPrototypeOf(schema);
  if (proto) watchMarkModified(proto, noteTakenByMarkModified);
}

/** When a document loads: Mongoose starts keeping initial values, and defaulted paths are noted (rare). */
export function rememberLoad(doc: Document): void {
  keepInitialValues(doc);
  // Already watched from the schema, unless its copy of Mongoose did not say which it is.
  watchMarkModified(doc, noteTakenByMarkModified);
  if (!doc.$isDefault(null as never)) return;
  const paths = Object.keys(schemaOf(doc).paths).filter((path) => doc.$isDefault(path));
  if (paths.length > 0) defaultedAtLoad.set(doc, paths);
}

/** Once saved, the defaults are stored, and Mongoose keeps initial values afresh. */
export function forgetLoad(doc: Document): void {
  defaultedAtLoad.delete(doc);
  takenByMarkModified.delete(doc);
}

/**
 * `markModified(path)` made Mongoose take the initial value of `path`'s top-level path. For a Mixed value or a Date,
 * it was taken after the changes in place the call marks: it is not the stored value.
 */
function noteTakenByMarkModified(doc: object, path: string): void {
  let inPlace = true;
  try {
    inPlace = changesInPlace(schemaOf(doc as Document), path);
  } catch {
    // Called from the application's markModified(), which this must not break: taken as lost, the save reads first.
  }
  if (!inPlace) return;
  let tops = takenByMarkModified.get(doc);
  if (!tops) takenByMarkModified.set(doc, (tops = new Set()));
  tops.add(topOf(path));
}

/**
 * Whether the value at `path` may have changed in place: it lies inside a Mixed value, or holds a Mixed value or a
 * Date at any depth (marking a parent path, `items` or `sub`, takes the initial value of all it holds).
 */
function changesInPlace(schema: Schema, path: string): boolean {
  const parts = path.split('.');
  for (let n = parts.length; n > 0; n--) {
    const type = schema.path(parts.slice(0, n).join('.')) as unknown as SchemaTypeLike | undefined;
    if (!type) continue;
    if (type.instance === 'Mixed') return true;
    return n === parts.length && typeHoldsInPlace(type);
  }
  // A nested path (`address`, declared by its paths): what is declared under it.
  if (schema.pathType(path) !== 'nested') return false;
  return Object.entries(schema.paths).some(([under, type]) => under.startsWith(`${path}.`) && typeHoldsInPlace(type));
}

/** Whether a value of this type is, or holds at any depth (an array's members, a subdocument's paths), a Mixed value or a Date. */
const typeHoldsInPlace = (type: SchemaTypeLike): boolean =>
  holdsInPlace(type) || schemasUnder(type).some((under) => holdsAnywhere(under, holdsInPlace));

/** What `doc` knows of its stored state, or undefined for a document that was not loaded (built by hand). */
export function loadedState(doc: Document): LoadedState | undefined {
  const saved = initialValuesOf(doc);
  if (!saved) return undefined;
  const versionKey: string | false | undefined = schemaOf(doc).get('versionKey');
  const key = versionKey || null;
  // The version is bumped by save() itself, past `saved`.
  return {
    saved,
    defaulted: defaultedAtLoad.get(doc) ?? [],
    versionKey: key,
    version: key ? storedValueOf(doc, key) : undefined,
    schema: schemaOf(doc),
  };
}

/** Whether every path of the schema was loaded (not left out by a projection or `select: false`). */
export function loadedWhole(doc: Document): boolean {
  return Object.keys(schemaOf(doc).paths).every((path) => doc.isSelected(path));
}

const topOf = (path: string) => path.split('.', 1)[0] ?? path;

/**
 * Whether Mongoose's initial value of a changed path may have been taken after the change: the old state is lost.
 * A Mixed value or a Date changed in place, then `markModified()`, leaves an initial value taken after that first
 * change (equal to the new one, unless it changed again). A Map's `set()` and `delete()` mark it modified after
 * changing it, so its initial value is taken after the first of them: a changed Map is never trusted.
 */
export function lostInPlace(doc: Document, loaded: LoadedState): boolean {
  const schema = schemaOf(doc);
  const changed = (top: string) => Object.hasOwn(loaded.saved, top) && doc.isModified(top);
  for (const top of takenByMarkModified.get(doc) ?? []) if (changed(top)) return true;
  for (const top of topsHolding(schema, holdsMap)) if (changed(top)) return true;
  for (const top of topsHolding(schema, holdsInPlace)) {
    if (changed(top) && sameValue(plainOf(loaded.saved[top]), plainOf(storedValueOf(doc, top)))) return true;
  }
  return false;
}

type TypeTest = (type: SchemaTypeLike) => boolean;
/** The type of an array's members, through arrays of arrays (a document array's own type holds their schema). */
function memberType(type: SchemaTypeLike): SchemaTypeLike {
  let member = type;
  while (member.embeddedSchemaType && !member.schema) member = member.embeddedSchemaType;
  return member;
}
const holdsInPlace: TypeTest = (t) => ['Mixed', 'Date'].some((name) => t.instance === name || memberType(t).instance === name);
const holdsMap: TypeTest = (t) => t.instance === 'Map' || memberType(t).instance === 'Map';
const isRef = (type: SchemaTypeLike | undefined): boolean => type?.options?.ref != null || type?.options?.refPath != null;
const holdsRef: TypeTest = (t) => isRef(t) || isRef(memberType(t));
const topsCache = new WeakMap<TypeTest, WeakMap<Schema, ReadonlySet<string>>>();
const anywhereCache = new WeakMap<TypeTest, WeakMap<Schema, boolean>>();

function cacheOf<V>(caches: WeakMap<TypeTest, WeakMap<Schema, V>>, holds: TypeTest): WeakMap<Schema, V> {
  let cache = caches.get(holds);
  if (!cache) caches.set(holds, (cache = new WeakMap()));
  return cache;
}

/** The schemas a subdocument type's values (or members) may have: its own, and those of its embedded discriminators. */
function schemasUnder(type: SchemaTypeLike): Schema[] {
  const { schema } = memberType(type);
  return schema ? [schema, ...Object.values(schema.discriminators ?? {})] : [];
}

/** Top-level paths holding, at any depth, a value of a type that passes `holds`. */
function topsHolding(schema: Schema, holds: TypeTest): ReadonlySet<string> {
  const cache = cacheOf(topsCache, holds);
  const cached = cache.get(schema);
  if (cached) return cached;
  const tops = new Set<string>();
  schema.eachPath((path, type) => {
    const t = type as unknown as SchemaTypeLike;
    if (holds(t) || schemasUnder(t).some((under) => holdsAnywhere(under, holds))) tops.add(topOf(path));
  });
  cache.set(schema, tops);
  return tops;
}

/**
 * Whether a path of `schema`, or of a schema under it, has a type that passes `holds`: what the schemas reachable
 * from it have, so that a recursive schema (`node.add({ children: [node] })`) holds what any schema on its cycle does.
 */
function holdsAnywhere(schema: Schema, holds: TypeTest): boolean {
  const cache = cacheOf(anywhereCache, holds);
  const cached = cache.get(schema);
  if (cached !== undefined) return cached;
  const seen = new Set<Schema>();
  const pending = [schema];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    for (const type of Object.values(next.paths) as unknown as SchemaTypeLike[]) {
      if (holds(type)) {
        cache.set(schema, true);
        return true;
      }
      pending.push(...schemasUnder(type));
    }
  }
  cache.set(schema, false);
  return false;
}

/** The state before: `current` with each top-level path changed since load set back, and load-time defaults out. */
export function stateBefore(current: Raw, loaded: LoadedState): Raw {
  // Object.assign: a spread copy takes V8's slow path once properties are set on it.
  const before = Object.assign({}, current);
  for (const [path, value] of Object.entries(loaded.saved)) {
    if (path.includes('.')) continue;
    if (value === undefined) Reflect.deleteProperty(before, path);
    else before[path] = topsHolding(loaded.schema, holdsRef).has(path) ? depopulated(loaded.schema, path, plainOf(value)) : plainOf(value);
  }
  for (const path of loaded.defaulted) removePath(before, path);
  if (loaded.versionKey) {
    if (loaded.version === undefined) Reflect.deleteProperty(before, loaded.versionKey);
    else before[loaded.versionKey] = loaded.version;
  }
  return before;
}

/** A document populated in place of an id: stored as the id. */
const idOf = (value: unknown): unknown =>
  value !== null && typeof value === 'object' && !('_bsontype' in value) && '_id' in value ? value._id : value;

/**
 * A path's initial value as stored: where the schema has a ref, at any depth (in a subdocument, a document array,
 * a nested path), Mongoose keeps a copy of the populated document, while the document stores (and `new_object`
 * shows, depopulated) only its id. `value` is a plain copy of ours; what changes is copied again.
 */
function depopulated(schema: Schema, path: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const type = schema.path(path) as unknown as SchemaTypeLike | undefined;
  if (type) return depopulatedAs(type, value);
  if (schema.pathType(path) !== 'nested') return value;
  const copy = Object.assign({}, value as Raw);
  for (const key of Object.keys(copy)) copy[key] = depopulated(schema, `${path}.${key}`, copy[key]);
  return copy;
}

/** A value of `type` with its populated refs as ids: a ref, an array (of arrays) of them, subdocuments holding them. */
function depopulatedAs(type: SchemaTypeLike, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (isRef(type)) return idOf(value);
  const members = type.schema;
  if (Array.isArray(value)) {
    if (members) return value.map((member) => depopulatedIn(subdocumentSchemaOf(members, member), member));
    const inner = type.embeddedSchemaType;
    return inner ? value.map((member) => depopulatedAs(inner, member)) : value;
  }
  return members ? depopulatedIn(subdocumentSchemaOf(members, value), value) : value;
}

/** A subdocument's plain copy with its populated refs as ids (see `depopulated`). */
function depopulatedIn(schema: Schema, subdocument: unknown): unknown {
  if (subdocument === null || typeof subdocument !== 'object' || Array.isArray(subdocument)) return subdocument;
  const copy = Object.assign({}, subdocument as Raw);
  for (const top of topsHolding(schema, holdsRef)) if (Object.hasOwn(copy, top)) copy[top] = depopulated(schema, top, copy[top]);
  return copy;
}

/**
 * The state after: `before` with what save() wrote taken from `current` (the top-level paths changed since load,
 * load-time defaults, the version; only those of `pathsToSave` when given). A value changed in place but never
 * marked is not written by Mongoose, and stays as it was.
 */
export function stateAfter(before: Raw, current: Raw, loaded: LoadedState, pathsToSave: readonly string[] | undefined): Raw {
  const written = new Set([...Object.keys(loaded.saved), ...loaded.defaulted].map(topOf));
  const only = pathsToSave && new Set(pathsToSave.map(topOf));
  const after = Object.assign({}, before);
  for (const top of written) {
    if (only && !only.has(top)) continue;
    if (Object.hasOwn(current, top)) after[top] = current[top];
    else Reflect.deleteProperty(after, top);
  }
  if (loaded.versionKey && Object.hasOwn(current, loaded.versionKey)) after[loaded.versionKey] = current[loaded.versionKey];
  return after;
}

/** Deletes a dotted path through nested objects, copying those on the way (they are shared with the new state). */
function removePath(doc: Raw, path: string): void {
  const parts = path.split('.');
  const last = parts.pop() ?? '';
  let cur = doc;
  for (const part of parts) {
    const next = cur[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next) || next instanceof Date) return;
    const copy = Object.assign({}, next as Raw);
    cur[part] = copy;
    cur = copy;
  }
  Reflect.deleteProperty(cur, last);
}
