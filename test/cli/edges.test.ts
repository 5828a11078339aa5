import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckpointDocument, createActionLogger, SqlStore } from 'actionlog';
import { finished, runCli, spawnCli, startCli, STACK_FRAME } from '../support/cli.js';

/**
 * The `actionlog` command line where a user meets its edges: windows of verify, a closed pipe, environment and
 * flags together, connection strings with odd passwords, earlier versions' tables. Every case runs the built CLI
 * on a SQLite trail (the PostgreSQL cases only need a refused connection).
 */

const dir = mkdtempSync(join(tmpdir(), 'actionlog-cli-edges-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const publicKeyFile = join(dir, 'public.pem');
const privateKeyFile = join(dir, 'private.pem');
writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));

const OLD = new Date('2025-03-01T10:00:00Z');

/** A SQLite file holding a trail sealed with `privateKey`: `actions` old actions in one request, and a recent one. */
async function sealedTrail(
  actions: number,
  options: { prefix?: string; sealed?: boolean } = {},
): Promise<{ file: string; anchors: string }> {
  const file = join(dir, `${randomUUID()}.db`);
  const anchors = join(dir, `${randomUUID()}-anchors.jsonl`);
  writeFileSync(anchors, '');
  const dataSource = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
  const store = new SqlStore({ dataSource, ...(options.prefix !== undefined ? { prefix: options.prefix } : {}) });
  const logger = createActionLogger({
    store,
    flushIntervalMs: 0,
    onError: (error) => {
      throw error;
    },
    ...(options.sealed === false
      ? {}
      : {
          integrity: {
            key: privateKey,
            anchor: (checkpoint: CheckpointDocument) => {
              appendFileSync(anchors, `${JSON.stringify(checkpoint)}\n`);
            },
          },
        }),
  });
  for (let start = 0; start < actions; start += 500) {
    await logger.run({ user: { id: 'u1', name: 'Ada' } }, () => {
      for (let i = start; i < Math.min(actions, start + 500); i++)
        logger.record({ action: 'create', target: { type: 'invoice', id: String(i) }, emitted_at: OLD });
    });
  }
  await logger.run({ user: { id: 'u2', name: 'Bob' } }, () => {
    logger.record({ action: 'approve', target: { type: 'invoice', id: '1' } });
  });
  await logger.close();
  await dataSource.destroy();
  return { file, anchors };
}

/** Rewrites the note of actions behind the store's back, as someone with write access to the database can. */
async function tamperNotes(file: string, where = '1 = 1'): Promise<void> {
  const dataSource = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
  await dataSource.query(`UPDATE "actionlog_action_logs" SET "note" = 'rewritten' WHERE ${where}`);
  await dataSource.destroy();
}

describe('actionlog CLI at its edges', () => {
  let trail: { file: string; anchors: string };
  beforeAll(async () => {
    trail = await sealedTrail(3);
  });

  it('verify --max-findings N does not claim findings were left out when there are exactly N', async () => {
    const { file } = await sealedTrail(3);
    await tamperNotes(file, '"id" = (SELECT MIN("id") FROM "actionlog_action_logs")');
    const run = await runCli(['verify', '--sqlite', file, '--key', publicKeyFile, '--max-findings', '1']);
    expect(run.code).toBe(1);
    // One finding in all ("modified 1"), and it is listed.
    expect(run.stdout).toMatch(/^tampered: .*; modified 1\n/);
    expect(run.stdout.split('\n').filter((line) => line.startsWith('modified  '))).toHaveLength(1);
    expect(run.stdout).not.toContain('only the first 1 findings are listed');
  });

  it('an explicit --sqlite is used even when ACTIONLOG_POSTGRES or ACTIONLOG_MONGODB is set in the environment', async () => {
    const envs: Array<Record<string, string>> = [
      { ACTIONLOG_POSTGRES: 'postgres://app:pw@db.example/app' },
      { ACTIONLOG_MONGODB: 'mongodb://db.example/app' },
    ];
    for (const env of envs) {
      const run = await spawnCli(['stats', '--sqlite', trail.file], { env });
      expect(run.stderr, JSON.stringify(env)).not.toMatch(/give one database/);
      expect(run.code, JSON.stringify(env)).toBe(0);
      expect(run.stdout).toMatch(/^actions\s+4\s/m);
    }
  });

  it('a --postgres URL with a stray % in its password: the error names the flag or PostgreSQL, not just "URI malformed"', async () => {
    const run = await runCli(['stats', '--postgres', 'postgres://auditor:50%off@127.0.0.1:1/app', '--connect-timeout', '1000']);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(STACK_FRAME);
    expect(run.stderr).toMatch(/--postgres|PostgreSQL/);
  });

  it('a --postgres URL whose password holds an @: no part of the password is shown', async () => {
    // TypeORM reads the password as "top@secret" (the host is after the last @), and tries 127.0.0.1:1.
    const run = await runCli(['stats', '--postgres', 'postgres://auditor:top@secret@127.0.0.1:1/app', '--connect-timeout', '1000']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Could not connect to PostgreSQL/);
    expect(run.stderr).not.toContain('secret');
  });

  it('tail with a bad --after or --poll-ms: exit 2 with nothing on stdout (no CSV header) and no "following" line', async () => {
    for (const bad of [
      ['--after', 'garbage'],
      ['--poll-ms', '5'],
    ]) {
      const run = await runCli(['tail', '--sqlite', trail.file, '--format', 'csv', ...bad]);
      expect(run.code, bad.join(' ')).toBe(2);
      expect(run.stderr, bad.join(' ')).toMatch(/Invalid arguments: --(after|poll-ms)/);
      expect(run.stdout, bad.join(' ')).toBe('');
      expect(run.stderr, bad.join(' ')).not.toContain('following actions');
    }
  });

  it('verify whose reader stops early (| head -1) still exits 1 on a tampered trail', async () => {
    // Enough findings that the report is many times a pipe's buffer.
    const { file } = await sealedTrail(5000);
    await tamperNotes(file);
    const args = ['verify', '--sqlite', file, '--key', publicKeyFile, '--max-findings', '10000'];
    const full = await runCli(args);
    expect(full.code).toBe(1);
    expect(full.stdout.length).toBeGreaterThan(400_000);
    const child = startCli(args);
    // As `head -1` does: read the first chunk, then close the pipe.
    child.stdout!.once('data', () => {
      child.stdout!.destroy();
    });
    const run = await finished(child);
    expect(run.stdout).toMatch(/^tampered: /);
    expect(run.code).toBe(1);
  });

  it('a trail of an earlier version (tables without the prefix): the error says --prefix, not createTables', async () => {
    const { file } = await sealedTrail(1, { prefix: '', sealed: false });
    const run = await runCli(['stats', '--sqlite', file]);
    expect(run.code).toBe(2);
    // The library itself warns: table "requests" holds an earlier actionlog trail: pass prefix: '' to keep writing there.
    expect(run.stderr).toMatch(/--prefix/);
    // Not an option of the command line, and following it would make an empty trail beside the real one.
    expect(run.stderr).not.toContain('createTables: true');
    // The hint works.
    const again = await runCli(['stats', '--sqlite', file, '--prefix', '']);
    expect(again.code).toBe(0);
  });

  it('purge --anchor-to a file that cannot be written: the error says why (the path or ENOENT)', async () => {
    const { file } = await sealedTrail(2);
    const missing = join(dir, 'no-such-folder', 'anchors.jsonl');
    const run = await runCli([
      'purge',
      '--sqlite',
      file,
      '--before',
      '2026-01-01',
      '--signing-key',
      privateKeyFile,
      '--anchor-to',
      missing,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(STACK_FRAME);
    expect(run.stderr).toMatch(/no-such-folder|ENOENT|--anchor-to/);
  });

  it('verify --from a time before the whole trail, or --to one after it, says intact as verify without a window does', async () => {
    // A trail written as an application writes it, nothing backdated: in each request an action, a change made
    // a moment later, and an activity (stored on its own, so sealed before the request's documents).
    const file = join(dir, `${randomUUID()}.db`);
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
    const logger = createActionLogger({ store: new SqlStore({ dataSource }), flushIntervalMs: 0, integrity: { key: privateKey } });
    const start = new Date(Date.now() - 60_000).toISOString();
    for (let i = 0; i < 3; i++) {
      await logger.run({ user: { id: `u${i}`, name: 'Ada' } }, async () => {
        logger.record({ action: 'create', target: { type: 'invoice', id: String(i) } });
        await new Promise((resolve) => setTimeout(resolve, 20));
        logger.recordModelChange({
          action: 'Updated',
          model: 'invoices',
          model_class_name: 'Invoice',
          model_namespace: 'app',
          model_id: String(i),
          old_object: { id: i, total: 1 },
          new_object: { id: i, total: 2 },
        });
        logger.activity({ action: `viewed invoice ${i}` });
      });
      await logger.flush();
    }
    await logger.close();
    await dataSource.destroy();
    const end = new Date(Date.now() + 60_000).toISOString();
    const whole = await runCli(['verify', '--sqlite', file, '--key', publicKeyFile]);
    expect(whole.stdout).toMatch(/^intact: 12 entries, 12 links in 1 chains/);
    expect(whole.code).toBe(0);
    for (const window of [
      ['--from', start],
      ['--to', end],
      ['--from', start, '--to', end],
    ]) {
      const run = await runCli(['verify', '--sqlite', file, '--key', publicKeyFile, ...window]);
      expect(run.stdout, window.join(' ')).toMatch(/^intact: 12 entries, 12 links in 1 chains/);
      expect(run.code, window.join(' ')).toBe(0);
    }
  });

  it('verify on a trail that was never sealed (no link, no checkpoint) is not "intact"', async () => {
    const { file } = await sealedTrail(3, { sealed: false });
    const run = await runCli(['verify', '--sqlite', file, '--key', publicKeyFile]);
    expect(run.stdout).not.toMatch(/^intact/);
    expect(run.code).toBe(2);
  });

  it('--batch-size 1.5 is refused as not a whole number, not as "not a number"', async () => {
    const batch = await runCli([
      'purge',
      '--sqlite',
      trail.file,
      '--signing-key',
      privateKeyFile,
      '--before',
      '2000-01-01',
      '--batch-size',
      '1.5',
    ]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/--batch-size: /);
    expect(batch.stderr).not.toContain('must be a number');
  });
});
