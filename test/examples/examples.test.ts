import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { mongoUri } from '../support/mongo-db.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

/** Runs an example as a user would, and returns what it printed. */
async function runExample(name: string): Promise<string> {
  const { stdout } = await promisify(execFile)(tsx, [`examples/${name}/app.ts`], {
    cwd: root,
    env: { ...process.env, MONGODB_URI: mongoUri() },
    timeout: 60_000,
  });
  return stdout;
}

const statsOf = (out: string) => JSON.parse(/^stats: (.*)$/m.exec(out)![1]!) as { recorded: number; stored: number; dropped: number };

describe.concurrent('examples', () => {
  it('koa-typeorm (the main one) stores a document per request, read back from SQLite', async () => {
    const out = await runExample('koa-typeorm');
    expect(out).toMatch(/POST \/loans\/1\/waive -> 400/);
    expect(statsOf(out)).toMatchObject({ recorded: 4, stored: 4, dropped: 0 });
  });

  it('nestjs-typeorm records the loans API: model changes, @AuditAction on success only, the injected logger', async () => {
    const out = await runExample('nestjs-typeorm');
    expect(out).toContain('ada POST /loans 201: Created Loan; Updated Book; action lend');
    expect(out).toContain('ada POST /loans/:id/return 201: Updated Loan; action return');
    // A refused return: documented, without the action.
    expect(out).toContain('ada POST /loans/:id/return 409: nothing');
    expect(out).toContain('ada POST /loans/:id/waive 201: action waive_fee');
    expect(out).toMatch(/POST \/loans\/1\/waive -> 400 .*note/);
    expect(statsOf(out)).toMatchObject({ recorded: 6, stored: 6, dropped: 0, queued: 0 });
  });

  it('express-memory prints its request documents', async () => {
    const out = await runExample('express-memory');
    expect(statsOf(out)).toMatchObject({ recorded: 4, stored: 4, dropped: 0 });
  });

  it('express-mongoose records the shop API, workflows and transaction included', async () => {
    const out = await runExample('express-mongoose');
    expect(out).toContain('Ada POST /orders/:id/approve 409: nothing changed');
    expect(out).toContain('Bo POST /orders/:id/approve 200: Updated Order');
    expect(out).toMatch(/Ada POST \/customers\/:id\/close 200: Updated Order \[status.*; Updated Customer \[name, updatedAt\]/);
    expect(out).toContain('Bo DELETE /orders/:id 200: SoftDeleted Order');
    // The API answers with the hash; the audit trail never holds it (omitted from the model, redacted in the body).
    expect(out).toContain('secret-hash');
    expect(out.slice(out.indexOf('Stored request documents'))).not.toContain('secret-hash');
    expect(statsOf(out)).toMatchObject({ recorded: 11, stored: 11, dropped: 0 });
  });
});
