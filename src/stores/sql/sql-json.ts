/**
 * Conditions on JSON columns, per dialect: containment (`@>`, served by GIN indexes) on PostgreSQL, `json_each` and
 * `json_extract` on SQLite. Values compare strictly typed, as in the documents: 30 is not '30', true is not 1.
 */

/** A JSON scalar a filter compares with. */
export type JsonScalar = string | number | boolean | null;

/** A condition with `?` for each of its parameters, in order. */
export type Condition = [sql: string, ...params: unknown[]];

export interface JsonConditions {
  /** `list` (a JSON array) has an object element with all these fields equal. */
  listHas(list: string, fields: Record<string, JsonScalar>): Condition;
  /**
   * A custom field: `holder` is an object with property `name` equal to `value`, or a list of `{ name, value }`
   * with such an element.
   */
  customField(holder: string, name: string, value: JsonScalar): Condition;
  /** `list` (a JSON array of strings) holds `value`. */
  listHolds(list: string, value: string): Condition;
  /** A field of a JSON object column, as JSON (`name` is the code's, never a filter's). */
  field(json: string, name: string): string;
}

export const POSTGRES_JSON: JsonConditions = {
  listHas: (list, fields) => [`${list} @> CAST(? AS jsonb)`, JSON.stringify([fields])],
  customField: (holder, name, value) => [
    `(${holder} @> CAST(? AS jsonb) OR ${holder} @> CAST(? AS jsonb))`,
    JSON.stringify({ [name]: value }),
    JSON.stringify([{ name, value }]),
  ],
  listHolds: (list, value) => [`${list} @> CAST(? AS jsonb)`, JSON.stringify([value])],
  field: (json, name) => `(${json} -> '${name}')`,
};

/** SQLite: `expr` at `path` is this value, of the same JSON type. */
function sqliteEquals(expr: string, path: string, value: JsonScalar): Condition {
  const type = `json_type(${expr}, ?)`;
  if (value === null) return [`${type} = 'null'`, path];
  if (typeof value === 'boolean') return [`${type} = '${String(value)}'`, path];
  const types = typeof value === 'number' ? `IN ('integer', 'real')` : `= 'text'`;
  return [`(${type} ${types} AND json_extract(${expr}, ?) = ?)`, path, path, value];
}

/** A JSON path to a property, quoted (names come from filters). */
const pathTo = (name: string) => `$."${name.replace(/"/g, '""')}"`;

function sqliteListHas(list: string, fields: Record<string, JsonScalar>): Condition {
  const matches = Object.entries(fields).map(([name, value]) => sqliteEquals('e.value', pathTo(name), value));
  const sql = matches.map(([condition]) => condition);
  return [
    `(json_type(${list}) = 'array' AND EXISTS (SELECT 1 FROM json_each(${list}) AS e WHERE e.type = 'object' AND ${sql.join(' AND ')}))`,
    ...matches.flatMap(([, ...params]) => params),
  ];
}

export const SQLITE_JSON: JsonConditions = {
  listHas: sqliteListHas,
  customField: (holder, name, value) => {
    const [property, ...propertyParams] = sqliteEquals(holder, pathTo(name), value);
    const [element, ...elementParams] = sqliteListHas(holder, { name, value });
    return [`((json_type(${holder}) = 'object' AND ${property}) OR ${element})`, ...propertyParams, ...elementParams];
  },
  listHolds: (list, value) => [
    `(json_type(${list}) = 'array' AND EXISTS (SELECT 1 FROM json_each(${list}) AS e WHERE e.type = 'text' AND e.value = ?))`,
    value,
  ],
  // `->` gives JSON text, also for a string value, which json_type and json_each then read as JSON.
  field: (json, name) => `(${json} -> '${pathTo(name)}')`,
};
