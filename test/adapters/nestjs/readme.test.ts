import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { SqlStore } from 'actionlog';
import { actionLogEntities } from 'actionlog/typeorm';
import { Client } from '../../support/client.js';
import { all } from '../../support/store-contract.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
// Inside the repository, so that its node_modules resolve; `.tmp/` is ignored by git.
const dir = join(root, '.tmp', `readme-nestjs-${randomUUID()}`);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The code block of the README's "NestJS" section, as written. */
function snippet(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## NestJS\n'));
  const match = /```ts\n([\s\S]*?)\n```/.exec(section);
  if (!match) throw new Error('the README has no NestJS snippet');
  return match[1]!;
}

/** Resolves with the URL the app prints once it listens. */
async function listening(child: ChildProcess): Promise<string> {
  let out = '';
  for await (const chunk of child.stdout!) {
    out += (chunk as Buffer).toString();
    const url = /Listening on (http:\/\/\S+)/.exec(out)?.[1];
    if (url) return url.replace('[::1]', '127.0.0.1');
  }
  throw new Error(`the app exited before it listened:\n${out}`);
}

describe("the README's NestJS snippet", () => {
  it('runs as written: documents every request in the app database, drained on SIGTERM', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.ts'), snippet());
    // A Nest project's own tsconfig: the repository's (decorators, and the package's names mapped to its sources).
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: '../../tsconfig.json', include: ['main.ts', '../../src', '../../adapters'] }),
    );
    // Node itself with tsx's loader, not the tsx CLI: the CLI relays a signal and SIGKILLs a child that has not
    // acknowledged it within 30 ms, which a loaded machine can miss, so the app would die before it drains.
    const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
      cwd: dir,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    const client = new Client(await listening(child), 1);
    const opened = await client.send('/loans', { method: 'POST' });
    const approved = await client.send('/loans/1/approve', { method: 'POST' });
    const waived = await client.send('/loans/1/waive', { method: 'POST', body: { note: 'first loan' } });
    client.close();
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    expect([opened.status, approved.status, waived.status]).toEqual([201, 201, 201]);
    // Once closed, Nest raises the signal again: the app ends by SIGTERM.
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });

    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: join(dir, 'app.db'),
      entities: actionLogEntities('better-sqlite3'),
    });
    await dataSource.initialize();
    const docs = await all(new SqlStore({ dataSource }), 'requests', {}, 'asc');
    await dataSource.destroy();
    expect(docs.map((d) => d.request_uuid)).toEqual([opened, approved, waived].map((r) => r.headers['x-request-id']));
    const [open, approve, waive] = docs.map((d) => d.details);
    expect(open!.model_logs.map((l) => [l.action, l.model_id])).toEqual([['Created', '1']]);
    expect(approve!.model_logs.map((l) => [l.action, l.model_details.old_object!.status, l.model_details.new_object!.status])).toEqual([
      ['Updated', 'open', 'approved'],
    ]);
    expect(approve!.actions).toMatchObject([{ action_type: 'approve', action_category: 'loans', target: { type: 'loan', id: 1 } }]);
    expect(waive!.actions).toMatchObject([{ action_type: 'waive_fee', target_id: '1', note: 'first loan' }]);
  });
});
