import { copyDocument } from 'actionlog/adapter-kit';
import type { EntityMetadata, ObjectLiteral } from 'typeorm';

type ColumnMetadata = EntityMetadata['columns'][number];

const keys = new WeakMap<ColumnMetadata, string[]>();

/** Where a column's value goes: its property path (`address.city`; a foreign key as `customer.id`). */
function keyOf(column: ColumnMetadata): string[] {
  let key = keys.get(column);
  if (!key) {
    key = column.propertyPath.split('.');
    keys.set(column, key);
  }
  return key;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = target;
  for (const part of path.slice(0, -1)) {
    if (cur[part] === null || typeof cur[part] !== 'object') cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[path[path.length - 1] ?? ''] = value;
}

/** A value as the app holds it, copied: JSON columns of any depth or shape cost a bounded copy (see copyDocument). */
function copyValue(value: unknown): unknown {
  if (value instanceof Date) return new Date(value.getTime());
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  return copyDocument(value);
}

/**
 * A fresh plain copy of an entity's column values as the app sees them (transformers not applied): embedded
 * columns nested, foreign keys as `{ relation: { referencedColumn: value } }`. Columns it does not carry are left out.
 */
export function plainState(metadata: EntityMetadata, entity: ObjectLiteral | undefined | null): Record<string, unknown> | null {
  return entity ? overlayState(metadata, null, entity) : null;
}

/** `base` with every column value `entity` carries laid over it: the state after a partial save. */
export function overlayState(
  metadata: EntityMetadata,
  base: Record<string, unknown> | null,
  entity: ObjectLiteral | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = base ? copyDocument(base) : {};
  if (!entity) return out;
  for (const column of metadata.columns) {
    let value: unknown;
    try {
      value = column.getEntityValue(entity);
    } catch {
      continue;
    }
    if (value !== undefined) setPath(out, keyOf(column), copyValue(value));
  }
  return out;
}

/** Primary key as a string; composite keys are the values in primary column order, joined with `:`. */
export function modelIdOf(metadata: EntityMetadata, ...sources: Array<ObjectLiteral | undefined | null>): string | null {
  for (const source of sources) {
    if (!source) continue;
    const values = metadata.primaryColumns.map((c): unknown => {
      try {
        return c.getEntityValue(source);
      } catch {
        return undefined;
      }
    });
    if (values.length > 0 && values.every((v) => v !== undefined && v !== null)) return values.map(String).join(':');
  }
  return null;
}

/** The primary key map of an entity, for finding it again. */
export function idMapOf(metadata: EntityMetadata, entity: ObjectLiteral): ObjectLiteral | undefined {
  return metadata.getEntityIdMap(entity);
}

const SQLITE_FAMILY = new Set(['sqlite', 'better-sqlite3', 'sqljs', 'capacitor', 'cordova', 'expo', 'react-native', 'nativescript']);

export function isSqliteFamily(type: string): boolean {
  return SQLITE_FAMILY.has(type);
}

/** Where a table lives: `schema.table` (PostgreSQL: `public` by default), `main.table` on SQLite. */
const namespaces = new WeakMap<EntityMetadata, string>();

export function namespaceOf(metadata: EntityMetadata): string {
  let namespace = namespaces.get(metadata);
  if (namespace === undefined) {
    const options = metadata.dataSource.options as { type: string; schema?: string; database?: string };
    const schema =
      metadata.schema ??
      (isSqliteFamily(options.type) ? 'main' : (options.schema ?? (options.type === 'postgres' ? 'public' : options.database)));
    namespace = schema ? `${schema}.${metadata.tableName}` : metadata.tableName;
    namespaces.set(metadata, namespace);
  }
  return namespace;
}

/**
 * The columns a table stores, each once: foreign keys included (TypeORM calls a join column without a property of
 * its own "virtual"); only virtual properties (`@VirtualColumn`, computed by a query) are not stored.
 */
export function storedColumns(metadata: EntityMetadata): ColumnMetadata[] {
  const seen = new Set<string>();
  return metadata.columns.filter((c) => !c.isVirtualProperty && !seen.has(c.databaseName) && seen.add(c.databaseName));
}

/**
 * The select list that reads a row as stored, for `hydrate`: every stored column by its name (SQLite keeps jsonb
 * as a binary blob, read as text through `json()`).
 */
export function selectList(metadata: EntityMetadata, escape: (name: string) => string, alias?: string): string {
  const sqlite = isSqliteFamily(metadata.dataSource.options.type);
  const prefix = alias === undefined ? '' : `${escape(alias)}.`;
  return storedColumns(metadata)
    .map((c) => {
      const name = escape(c.databaseName);
      return sqlite && c.type === 'jsonb' ? `json(${prefix}${name}) AS ${name}` : `${prefix}${name} AS ${name}`;
    })
    .join(', ');
}

/** Column types a driver hands back in another form than the app wrote (PostgreSQL: numeric as strings). */
const RESHAPED_TYPES = new Set(['decimal', 'numeric', 'bigint', 'int8', 'money', 'date', 'time', 'simple-array', 'enum', 'simple-enum']);

/** A column of dates or times (`Date`, `timestamp`, `timestamptz`, `datetime`...). */
function isDateColumn(column: { type: unknown }): boolean {
  return column.type === Date || /date|time/i.test(String(column.type));
}

function jsonSafe(value: unknown): boolean {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(jsonSafe);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value).every(jsonSafe);
  return false;
}

/**
 * The row after an UPDATE setting `values`, when that follows exactly from the row before it: plain values, no
 * SQL expressions, no transformers, no columns the database sets itself (update date, version, columns it computes),
 * no dates given as text. Else undefined, and the row must be read back. A column TypeORM never updates
 * (`update: false`) keeps its value.
 */
export function predictedState(
  metadata: EntityMetadata,
  before: Record<string, unknown>,
  values: ObjectLiteral,
): Record<string, unknown> | undefined {
  if (metadata.updateDateColumn || metadata.versionColumn) return undefined;
  if (metadata.columns.some((column) => column.asExpression !== undefined)) return undefined;
  const after = copyDocument(before);
  for (const column of metadata.columns) {
    let value: unknown;
    try {
      value = column.getEntityValue(values);
    } catch {
      return undefined;
    }
    if (value === undefined || !column.isUpdate) continue;
    if (column.transformer || column.isGenerated || RESHAPED_TYPES.has(String(column.type))) return undefined;
    // A date or time given as text is stored as the database reads it.
    if (typeof value === 'string' && isDateColumn(column)) return undefined;
    const isJson = ['json', 'jsonb', 'simple-json'].includes(String(column.type));
    if (
      typeof value === 'function' ||
      (typeof value === 'object' && value !== null && !(value instanceof Date) && !(isJson && jsonSafe(value)))
    )
      return undefined;
    setPath(after, keyOf(column), copyValue(value));
  }
  return after;
}

/** An entity-shaped object from a raw row, with values as TypeORM hydrates them (types, transformers). */
export function hydrate(metadata: EntityMetadata, raw: ObjectLiteral): ObjectLiteral {
  const driver = metadata.dataSource.driver;
  const entity = metadata.create() as ObjectLiteral;
  for (const column of metadata.columns) {
    if (!(column.databaseName in raw)) continue;
    const value: unknown = driver.prepareHydratedValue(raw[column.databaseName], column);
    const relation = column.relationMetadata;
    if (relation && column.referencedColumn && !column.embeddedMetadata) {
      // A foreign key: the relation as a reference to the row it points at, as TypeORM loads relation ids.
      const current: unknown = entity[relation.propertyName];
      if (value === null || value === undefined) entity[relation.propertyName] ??= null;
      else
        entity[relation.propertyName] = Object.assign({}, current as ObjectLiteral | null | undefined, {
          [column.referencedColumn.propertyName]: value,
        });
      continue;
    }
    column.setEntityValue(entity, value);
  }
  return entity;
}
