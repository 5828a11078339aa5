import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionLogger, type CheckpointDocument, createActionLogger, MongoStore, SqlStore, type Store } from 'actionlog';
import { eventually, finished, runCli, spawnCli, STACK_FRAME, startCli } from '../support/cli.js';
import { freshDatabaseName, mongoUri } from '../support/mongo-db.js';
import { createPostgresDatabase } from '../support/sql.js';

const dir = mkdtempSync(join(tmpdir(), 'actionlog-cli-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const OLD = new Date('2025-03-01T10:00:00Z');
const RECENT = new Date('2026-02-01T10:00:00Z');
const change = (id: string, timestamp: Date) => ({
  action: 'Updated' as const,
  model: 'invoices',
  model_class_name: 'Invoice',
  model_namespace: 'app.invoices',
  model_id: id,
  old_object: { id, total: 1 },
  new_object: { id, total: 2 },
  timestamp,
});

/**
 * A trail of two requests: an old one (two actions, a change, an activity, before 2025-06) and a recent one
 * (three actions, a change, an activity). Request documents are stamped when their scope starts: both are recent.
 */
async function seed(logger: ActionLogger): Promise<void> {
  await logger.run({ user: 'u1', requestUuid: 'req-old' }, () => {
    logger.record({ action: 'create', target: { type: 'invoice', id: '1' }, emitted_at: OLD });
    logger.record({ action: 'delete', target: { type: 'invoice', id: '1' }, emitted_at: OLD });
    logger.recordModelChange(change('1', OLD));
    logger.activity({ action: 'viewed invoice 1', activity_date: OLD });
  });
  await logger.run({ user: 'u2', requestUuid: 'req-new' }, () => {
    logger.record({ action: 'create', target: { type: 'invoice', id: '2' }, note: 'first, "quoted"', emitted_at: RECENT });
    logger.record({ action: 'create', target: { type: 'invoice', id: '3' }, emitted_at: RECENT });
    logger.record({ action: 'approve', target: { type: 'invoice', id: '2' }, emitted_at: RECENT });
    logger.recordModelChange(change('2', RECENT));
    logger.activity({ action: 'viewed invoice 2', activity_date: RECENT });
  });
  await logger.flush();
}

interface Trail {
  /** The CLI's database flags. */
  args: string[];
  store: () => Store;
  /** The same flags, naming a database with no trail. */
  emptyArgs: () => Promise<string[]>;
  cleanup: () => Promise<void>;
}

const TRAILS: Record<string, () => Promise<Trail>> = {
  async sqlite() {
    const file = join(dir, `${randomUUID()}.db`);
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
    return {
      args: ['--sqlite', file],
      store: () => new SqlStore({ dataSource }),
      emptyArgs: async () => {
        const empty = join(dir, 'empty.db');
        await new DataSource({ type: 'better-sqlite3', database: empty }).initialize().then((d) => d.destroy());
        return ['--sqlite', empty];
      },
      cleanup: () => dataSource.destroy(),
    };
  },
  async postgres() {
    const { url, drop } = await createPostgresDatabase();
    const dataSource = await new DataSource({ type: 'postgres', url }).initialize();
    const empty = await createPostgresDatabase();
    return {
      args: ['--postgres', url],
      store: () => new SqlStore({ dataSource }),
      emptyArgs: async () => ['--postgres', empty.url],
      cleanup: async () => {
        await dataSource.destroy();
        await Promise.all([drop(), empty.drop()]);
      },
    };
  },
  async mongodb() {
    const client = await MongoClient.connect(mongoUri());
    const name = freshDatabaseName();
    const uri = new URL(mongoUri());
    uri.pathname = `/${name}`;
    return {
      args: ['--mongodb', uri.toString()],
      store: () => new MongoStore({ client, dbName: name }),
      emptyArgs: async () => ['--mongodb', mongoUri(), '--db', freshDatabaseName()],
      cleanup: async () => {
        await client.db(name).dropDatabase();
        await client.close();
      },
    };
  },
};

describe.each(Object.keys(TRAILS))('actionlog on %s', (kind) => {
  let trail: Trail;
  let logger: ActionLogger;
  const cli = (...args: string[]) => runCli([...args, ...trail.args]);
  /** The built command in a process of its own, as a user runs it: its output and its exit status. */
  const command = (...args: string[]) => spawnCli([...args, ...trail.args]);

  beforeAll(async () => {
    trail = await TRAILS[kind]!();
    logger = createActionLogger({ store: trail.store(), flushIntervalMs: 0, onError: (e) => expect.fail(e.message) });
    await seed(logger);
  });
  afterAll(async () => {
    await logger.close();
    await trail.cleanup();
  });

  it('stats: entries per kind, oldest and newest, most frequent values', async () => {
    const run = await cli('stats', '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const stats = JSON.parse(run.stdout) as {
      kinds: Record<string, { count: number; oldest: string; newest: string }>;
      top: Record<string, Array<{ value: string; count: number }>>;
    };
    expect(Object.fromEntries(Object.entries(stats.kinds).map(([k, s]) => [k, s.count]))).toEqual({
      requests: 2,
      actions: 5,
      changes: 2,
      activities: 2,
    });
    expect(stats.kinds.actions).toMatchObject({ oldest: OLD.toISOString(), newest: RECENT.toISOString() });
    expect(stats.top.action_type).toEqual([
      { value: 'create', count: 3 },
      { value: 'approve', count: 1 },
      { value: 'delete', count: 1 },
    ]);
    expect(stats.top.model).toEqual([{ value: 'invoices', count: 2 }]);
    const text = await cli('stats', '--from', '2026-01-01');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^actions\s+3\s+2026-02-01T10:00:00.000Z\s+2026-02-01T10:00:00.000Z$/m);
    expect(text.stdout).toMatch(/^top action types:\n\s+2\s+create\n\s+1\s+approve$/m);
  });

  it('export: CSV of the actions that match the filter flags, to stdout; JSON lines to a file', async () => {
    const csv = await command(
      'export',
      '--format',
      'csv',
      '--action-type',
      'create',
      '--from',
      '2026-01-01',
      '--columns',
      'action_type,target_id,note',
    );
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe('action_type,target_id,note\r\ncreate,2,"first, ""quoted"""\r\ncreate,3,\r\n');
    expect(csv.stderr).toBe('exported 2 actions\n');
    const out = join(dir, `${kind}-changes.jsonl`);
    const jsonl = await cli('export', '--kind', 'changes', '--model', 'invoices', '--model-id', '2', '--out', out);
    expect(jsonl.code).toBe(0);
    expect(jsonl.stdout).toBe('');
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ model: 'invoices', model_id: '2', request_uuid: 'req-new' });
  });

  it('bad arguments: exit 2, a message naming the flag, no stack', async () => {
    const cases: Array<[string[], string]> = [
      [['export', '--from', 'yesterday'], '--from: must be a valid date'],
      [['export', '--kind', 'requests', '--action-type', 'create'], '--action-type: does not apply to requests'],
      [['export', '--format', 'xml'], "argument 'xml' is invalid. Allowed choices are jsonl, csv"],
      [['export', '--format', 'csv', '--columns', 'nope'], '--columns: "nope" is not a field of actions'],
      [['export', '--kind', 'requests', '--status', 'ok'], '--status: must be a number'],
      [['purge', '--batch-size', 'many'], '--batch-size: must be a number'],
      [['purge', '--before', '2025-13-45'], '--before: must be a valid date'],
      [['purge', '--before', '+010000-01-01'], '--before: must be between the years 0000 and 9999'],
      [['export', '--to', '+010000-01-01'], '--to: must be between the years 0000 and 9999'],
      [['archive'], "required option '--to <file>' not specified"],
      [['stats', '--top', '0'], '--top: must be a whole number from 1 to 1000'],
      [['tail', '--to', '2026-01-01', '--from', '2026-02-01'], '--to: must not be before from'],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(...args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toContain(message);
      expect(run.stderr, args.join(' ')).not.toMatch(STACK_FRAME);
      expect(run.stdout, args.join(' ')).toBe('');
    }
  });

  it('a database without the trail: exit 2, naming what is missing', async () => {
    const run = await runCli(['stats', ...(await trail.emptyArgs())]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(kind === 'mongodb' ? /--db: ".+" holds none of the collections actionlog_requests/ : /actionlog_requests/);
    expect(run.stderr).not.toMatch(STACK_FRAME);
  });

  it('tail: prints entries stored after it starts, as JSON lines, until SIGINT (exit 0)', async () => {
    const child = startCli(['tail', '--kind', 'actions', '--action-type', 'ship', '--poll-ms', '100', ...trail.args]);
    await eventually(() => child.out.stderr.includes('following actions'), 30_000, 'the tail to start');
    // Written until two arrive: the tail starts from its first read, a moment after it says it follows.
    let n = 0;
    const lines = () => child.out.stdout.split('\n').filter(Boolean);
    while (lines().length < 2) {
      await logger.run({ user: 'u3' }, () => {
        logger.record({ action: 'ship', target: { type: 'invoice', id: String(++n) } });
        logger.record({ action: 'other' });
      });
      await logger.flush();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(n, child.out.stderr).toBeLessThan(100);
    }
    child.kill('SIGINT');
    const run = await finished(child);
    expect(run.code).toBe(0);
    const entries = lines().map((line) => JSON.parse(line) as { action_type: string; target_id: string });
    expect(entries.every((e) => e.action_type === 'ship')).toBe(true);
    const ids = entries.map((e) => Number(e.target_id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('archive: moves what is older than --before to a JSON lines file, counting per kind', async () => {
    const file = join(dir, `${kind}-archive.jsonl`);
    writeFileSync(file, '');
    const run = await command('archive', '--before', '2025-06-01', '--to', file, '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ requests: 0, actions: 2, changes: 1, activities: 1, total: 4 });
    const archived = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; entry: Record<string, unknown> });
    expect(archived.map((a) => `${a.kind} ${String(a.entry.action_type ?? a.entry.model ?? a.entry.action)}`).sort()).toEqual([
      'actions create',
      'actions delete',
      'activities viewed invoice 1',
      'changes invoices',
    ]);
    expect(await logger.count({ kind: 'actions', to: '2025-06-01' })).toBe(0);
    expect(await logger.count({ kind: 'actions', from: '2026-01-01', to: '2026-03-01' })).toBe(3);
  });

  it('purge: deletes what is older than --before, printing the counts; a second run deletes nothing', async () => {
    const run = await command('purge', '--before', '2026-03-01');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'requests            0',
        'actions             3',
        'changes             1',
        'activities          1',
        'total               5',
        'attachments         0',
        '',
      ].join('\n'),
    );
    expect(await logger.count({ kind: 'changes' })).toBe(0);
    const again = await cli('purge', '--before', '2026-03-01', '--json');
    expect(JSON.parse(again.stdout)).toEqual({ requests: 0, actions: 0, changes: 0, activities: 0, attachments: 0, total: 0 });
  });
});

describe('actionlog, whatever the database', () => {
  it('--help of the program and of each command: its options, the database options, examples, exit codes', async () => {
    const top = await spawnCli(['--help']);
    expect(top.code).toBe(0);
    for (const line of [
      'Usage: actionlog [options] [command]',
      /export \[options\]\s+write the entries that match as JSON lines or CSV/,
      /tail \[options\]\s+follow the entries that match/,
      /stats \[options\]\s+count the entries per kind/,
      /purge \[options\]\s+delete expired entries/,
      /archive \[options\]\s+move expired entries/,
      /verify \[options\]\s+check the trail against its hash chains and signed\s+checkpoints; exit 1 when tampered with/,
      'Exit status: 0 done (verify: intact); 1 verify found tampering; 2 bad arguments, a database that cannot be reached',
    ]) {
      expect(top.stdout).toMatch(line);
    }
    const own: Record<string, RegExp[]> = {
      export: [/--format <format>\s+output format \(choices: "jsonl", "csv"/, /--out <file>/, /--action-type <type>/, /--model-id <id>/],
      tail: [/--format <format>/, /--after <cursor>/, /--poll-ms <ms>/, /--kind <kind>/],
      stats: [/--from <date>/, /--top <n>/, /--json/],
      purge: [/--before <date>/, /--batch-size <n>/, /--signing-key <file>\s+PEM file of the Ed25519 private key/, /--unrecorded/],
      archive: [/--to <file>\s+JSON lines file to append to/, /--before <date>/, /--signing-key <file>/, /--hmac-secret-env <name>/],
    };
    const helps = await Promise.all(Object.keys(own).map((command) => runCli([command, '--help'])));
    for (const [i, [command, lines]] of Object.entries(own).entries()) {
      const help = helps[i]!;
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain(`Usage: actionlog ${command} [options]`);
      for (const line of lines) expect(help.stdout, command).toMatch(line);
      expect(help.stdout, command).toMatch(
        /Database \(one of --mongodb, --postgres, --sqlite\):\n\s+--mongodb <uri>\s+MongoDB connection string/,
      );
      expect(help.stdout, command).toMatch(/--connect-timeout <ms>/);
      expect(help.stdout, command).toContain(`Examples:\n  $ actionlog ${command} `);
    }
  });

  it('without a database, with two, or with an unknown option or command: exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['stats'], 'give the database: --mongodb URI, --postgres URL or --sqlite FILE'],
      [['stats', '--sqlite', 'a.db', '--postgres', 'postgres://x/y'], '--sqlite: give one database, not --postgres and --sqlite'],
      [['stats', '--sqlite', join(dir, 'missing.db')], '--sqlite: no such file'],
      [['stats', '--sqlite', 'a.db', '--db', 'x'], '--db: goes with --mongodb'],
      [['stats', '--mongodb', 'mongodb://127.0.0.1:1'], '--db: give the database: mongodb://127.0.0.1:1 names none'],
      [['stats', '--bogus'], "unknown option '--bogus'"],
      [['frobnicate'], "unknown command 'frobnicate'"],
      [[], 'Usage: actionlog'],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toContain(message);
      expect(run.stderr, args.join(' ')).not.toMatch(STACK_FRAME);
      // One style for every error, commander's and ours; the bare command prints its help instead.
      if (args.length > 0) expect(run.stderr, args.join(' ')).toMatch(/^actionlog: /);
    }
    expect(runs[5]!.stderr).toMatch(/^actionlog: Invalid arguments: unknown option '--bogus'\n\(add --help for usage\)\n$/);
  });

  it('an unreachable database: exit 2, naming it without its password', async () => {
    const [pg, mongo] = await Promise.all([
      runCli(['stats', '--postgres', 'postgres://auditor:s3cret@127.0.0.1:1/app', '--connect-timeout', '2000']),
      runCli(['export', '--mongodb', 'mongodb://127.0.0.1:1/app', '--connect-timeout', '500']),
    ]);
    expect(pg.code).toBe(2);
    expect(pg.stderr).toMatch(/^actionlog: Could not connect to PostgreSQL at postgres:\/\/auditor:\*\*\*@127\.0\.0\.1:1\/app: .+/);
    expect(pg.stderr).not.toContain('s3cret');
    expect(pg.stderr).not.toMatch(STACK_FRAME);
    expect(mongo.code).toBe(2);
    expect(mongo.stderr).toMatch(/^actionlog: Could not connect to MongoDB at mongodb:\/\/127\.0\.0\.1:1\/app: .+/);
    expect(mongo.stderr).not.toMatch(STACK_FRAME);
  });

  it('--version prints the package version', async () => {
    const run = await spawnCli(['--version']);
    expect(run.code).toBe(0);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(run.stdout.trim()).toBe(pkg.version);
  });
});

describe("the README's Command line examples", () => {
  it('run as written, on a SQLite trail in the current folder (tail until Ctrl-C)', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const commands = /^## Command line\n[\s\S]*?```sh\n([\s\S]*?)```/m.exec(readme)![1]!.trim().split('\n');
    expect(commands.length).toBeGreaterThan(4);
    const cwd = mkdtempSync(join(dir, 'readme-'));
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: join(cwd, 'app.db') }).initialize();
    // Sealed, its public key and anchored checkpoints written where the verify example looks for them.
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(cwd, 'audit-public.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(cwd, 'audit-private.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const anchor = (checkpoint: CheckpointDocument) => {
      appendFileSync(join(cwd, 'anchored.jsonl'), `${JSON.stringify(checkpoint)}\n`);
    };
    const logger = createActionLogger({ store: new SqlStore({ dataSource }), flushIntervalMs: 0, integrity: { key: privateKey, anchor } });
    await seed(logger);
    // An action of 2024, for the archive example to move.
    await logger.run({ user: 'u1' }, () => {
      logger.record({ action: 'export', emitted_at: new Date('2024-06-01T10:00:00Z') });
    });
    await logger.close();
    await dataSource.destroy();
    expect(readFileSync(join(cwd, 'anchored.jsonl'), 'utf8')).toMatch(/^\{"uid":/);
    for (const command of commands) {
      const [npx, name, ...args] = command.split(' ');
      expect([npx, name], command).toEqual(['npx', 'actionlog']);
      if (args[0] === 'tail') {
        const child = startCli(args, { cwd });
        await eventually(() => child.out.stderr.includes('following actions'), 30_000, 'the tail to start');
        child.kill('SIGINT');
        expect((await finished(child)).code, command).toBe(0);
        continue;
      }
      const run = await spawnCli(args, { cwd });
      expect(run.code, `${command}\n${run.stderr}`).toBe(0);
      // Every entry, the archived one read from the archive, with the checkpoint that records what the archive moved.
      if (args[0] === 'verify') {
        const checkpoints = args.includes('--archive') ? 2 : 1;
        expect(run.stdout, command).toBe(`intact: 13 entries, 13 links in 1 chains, ${checkpoints} checkpoints, 0 legacy\n`);
      }
    }
    expect(commands.filter((command) => command.includes(' verify ') && command.includes('--archive'))).toHaveLength(1);
    expect(readFileSync(join(cwd, 'archive-2024.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(readFileSync(join(cwd, 'actions.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
  });
});
