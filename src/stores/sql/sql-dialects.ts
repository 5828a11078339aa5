/** How values and statements look in one SQL dialect. */
export interface SqlDialect {
  /** Placeholder of the i-th parameter of a statement (1-based). */
  param(i: number): string;
  date(value: Date | null | undefined): unknown;
  bool(value: boolean): unknown;
  json(value: unknown): unknown;
  readJson(value: unknown): unknown;
  readDate(value: unknown): Date | null;
  /** `column` is one of the values of a list parameter. */
  inList(column: string, param: string): string;
  list(values: string[]): unknown;
  /** Several rows per INSERT (PostgreSQL), or one prepared statement run per row (SQLite). */
  multiRow: boolean;
  insertIgnore: { prefix: string; suffix: string };
  lock: string;
}

export const POSTGRES: SqlDialect = {
  param: (i) => `$${i}`,
  date: (v) => v ?? null,
  bool: (v) => v,
  json: (v) => (v === undefined || v === null ? null : JSON.stringify(v)),
  readJson: (v) => v,
  readDate: (v) => (v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null),
  inList: (column, param) => `${column} = ANY(${param})`,
  list: (values) => values,
  multiRow: true,
  insertIgnore: { prefix: 'INSERT INTO', suffix: ' ON CONFLICT DO NOTHING' },
  lock: ' FOR UPDATE',
};

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export const SQLITE: SqlDialect = {
  param: () => '?',
  // As TypeORM stores a `datetime` on SQLite, so that reads through the entities understand it.
  date: (v) =>
    v
      ? `${pad(v.getUTCFullYear(), 4)}-${pad(v.getUTCMonth() + 1)}-${pad(v.getUTCDate())} ${pad(v.getUTCHours())}:${pad(v.getUTCMinutes())}:${pad(v.getUTCSeconds())}.${pad(v.getUTCMilliseconds(), 3)}`
      : null,
  bool: (v) => (v ? 1 : 0),
  json: (v) => (v === undefined || v === null ? null : JSON.stringify(v)),
  readJson: (v) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : (v ?? null)),
  readDate: (v) => (v instanceof Date ? v : typeof v === 'string' ? new Date(`${v.replace(' ', 'T')}Z`) : null),
  inList: (column, param) => `${column} IN (SELECT value FROM json_each(${param}))`,
  list: (values) => JSON.stringify(values),
  multiRow: false,
  insertIgnore: { prefix: 'INSERT OR IGNORE INTO', suffix: '' },
  lock: '',
};
