import type { StoredAttachment } from '../../shared/document.js';
import type { SqlDialect } from './sql-dialects.js';
import { quoteName as q, type SqlTables } from './sql-schema.js';
import type { SqlProgram, SqlStep } from './sql-types.js';

const COLUMNS = ['attachment_id', 'name', 'type', 'mime_type', 'size', 'sha256', 'data', 'timestamp', 'expires_at'];

/** The statements of attachments' bytes: one row each (`bytea` on PostgreSQL, `blob` on SQLite), by `attachment_id`. */
export class SqlAttachments {
  constructor(
    private readonly d: SqlDialect,
    private readonly t: SqlTables,
  ) {}

  /** Inserts each attachment once: a retry finds its id taken and adds nothing. One row per statement (they are large). */
  *put(attachments: StoredAttachment[]): SqlProgram {
    const { prefix, suffix } = this.d.insertIgnore;
    const placeholders = COLUMNS.map((_, i) => this.d.param(i + 1)).join(', ');
    const sql = `${prefix} ${q(this.t.attachments)} (${COLUMNS.map(q).join(', ')}) VALUES (${placeholders})${suffix}`;
    for (const a of attachments) {
      const expires = this.d.date(a.expires_at ?? null);
      yield { sql, params: [a.id, a.name, a.type, a.mime_type, a.size, a.sha256, a.data, this.d.date(a.timestamp), expires] };
    }
  }

  /** The bytes of one attachment not expired at `now` (a row `data`, or none). */
  read(id: string, now: Date): SqlStep {
    const table = q(this.t.attachments);
    const live = `("expires_at" IS NULL OR "expires_at" > ${this.d.param(2)})`;
    return { sql: `SELECT "data" FROM ${table} WHERE "attachment_id" = ${this.d.param(1)} AND ${live}`, params: [id, this.d.date(now)] };
  }
}
