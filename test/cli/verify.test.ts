import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckpointDocument, MongoStore, SqlStore, type Store, type VerifyReport } from 'actionlog';
import { runCli, spawnCli, STACK_FRAME } from '../support/cli.js';
import { freshDatabaseName, mongoUri } from '../support/mongo-db.js';
import { createPostgresDatabase } from '../support/sql.js';
import { ed25519, entriesOf, sealingLogger, writeTrail } from '../support/trail.js';

const dir = mkdtempSync(join(tmpdir(), 'actionlog-verify-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const keys = ed25519();
const keyFile = join(dir, 'public.pem');
const otherKeyFile = join(dir, 'other.pem');
const signingKeyFile = join(dir, 'private.pem');
const otherSigningKeyFile = join(dir, 'other-private.pem');
writeFileSync(keyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(signingKeyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(otherSigningKeyFile, ed25519().privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(otherKeyFile, ed25519().publicKey.export({ type: 'spki', format: 'pem' }));

interface Database {
  /** The CLI's database flags. */
  args: string[];
  store: Store;
  /** Sets an action's note behind the store's back, as someone with write access to the database can. */
  setNote(id: string, note: string): Promise<void>;
  cleanup(): Promise<void>;
}

const DATABASES: Record<string, () => Promise<Database>> = {
  async sqlite() {
    const file = join(dir, `${randomUUID()}.db`);
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
    return {
      args: ['--sqlite', file],
      store: new SqlStore({ dataSource }),
      setNote: async (id, note) => {
        await dataSource.query('UPDATE "actionlog_action_logs" SET "note" = ? WHERE "id" = ?', [note, id]);
      },
      cleanup: () => dataSource.destroy(),
    };
  },
  async postgres() {
    const { url, drop } = await createPostgresDatabase();
    const dataSource = await new DataSource({ type: 'postgres', url }).initialize();
    return {
      args: ['--postgres', url],
      store: new SqlStore({ dataSource }),
      setNote: async (id, note) => {
        await dataSource.query('UPDATE "actionlog_action_logs" SET "note" = $1 WHERE "id" = $2', [note, id]);
      },
      cleanup: async () => {
        await dataSource.destroy();
        await drop();
      },
    };
  },
  async mongodb() {
    const client = await MongoClient.connect(mongoUri());
    const name = freshDatabaseName();
    const uri = new URL(mongoUri());
    uri.pathname = `/${name}`;
    const store = new MongoStore({ client, dbName: name });
    return {
      args: ['--mongodb', uri.toString()],
      store,
      setNote: async (id, note) => {
        const { ObjectId } = await import('mongodb');
        const result = await client
          .db(name)
          .collection(store.collections.actionLogs)
          .updateOne({ _id: new ObjectId(id) }, { $set: { note } });
        expect(result.modifiedCount).toBe(1);
      },
      cleanup: async () => {
        await client.db(name).dropDatabase();
        await client.close();
      },
    };
  },
};

describe.each(Object.keys(DATABASES))('actionlog verify on %s', (kind) => {
  let db: Database;
  const anchorsFile = join(dir, `anchors-${kind}.jsonl`);
  const verify = (...args: string[]) => runCli(['verify', ...args, ...db.args]);
  /** The built command in a process of its own, as a user runs it: its output and its exit status. */
  const verifyCommand = (...args: string[]) => spawnCli(['verify', ...args, ...db.args]);

  // One sealed trail per database: the cases that only read it run first, the tampering last.
  beforeAll(async () => {
    db = await DATABASES[kind]!();
    const anchors: CheckpointDocument[] = [];
    const logger = sealingLogger(db.store, keys.privateKey, anchors);
    await writeTrail(logger, 3);
    await logger.close();
    writeFileSync(anchorsFile, anchors.map((a) => `${JSON.stringify(a)}\n`).join(''));
  });
  afterAll(async () => {
    await db.cleanup();
  });

  it('an untouched trail: exit 0, "intact", with the report as JSON too', async () => {
    const run = await verifyCommand('--key', keyFile, '--anchors', anchorsFile);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^intact: \d+ entries, \d+ links in 1 chains, \d+ checkpoints, 0 legacy\n$/);
    const json = await verify('--key', keyFile, '--anchors', anchorsFile, '--json');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as VerifyReport;
    expect(report.status).toBe('intact');
    expect(report.findings).toEqual([]);
    expect(report.summary.entries).toBeGreaterThan(0);
    expect(report.summary.checkpoints).toBeGreaterThan(1);
  });

  it('without a key: exit 2, asking for one (no signature could be checked)', async () => {
    const run = await verify();
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--key: give the key that signs checkpoints: --key FILE (repeatable) or --hmac-secret-env NAME');
    expect(run.stdout).toBe('');
  });

  it('another key: checkpoints by an unknown key are forged, exit 1', async () => {
    const run = await verifyCommand('--key', otherKeyFile, '--json');
    const report = JSON.parse(run.stdout) as VerifyReport;
    expect(report.status).toBe('tampered');
    expect(run.code).toBe(1);
    expect(report.findings.filter((f) => f.problem === 'forged').every((f) => /unknown key/.test(f.message))).toBe(true);
    expect(report.summary.counts.forged).toBeGreaterThan(0);
    // The likelier cause is said: no checkpoint names the key given.
    expect(report.findings.find((f) => f.problem === 'forged')?.message).toMatch(
      /signed by an unknown key ed25519:[0-9a-f]+ \(no checkpoint names a key given: if the key is the trail's, every checkpoint was signed again\)$/,
    );
    // An HMAC secret, read from the environment, did not sign them either.
    const hmac = await spawnCli(['verify', '--hmac-secret-env', 'AUDIT_SECRET', ...db.args], {
      env: { AUDIT_SECRET: 'a secret of 32 bytes at least...' },
    });
    expect(hmac.code).toBe(1);
    expect(hmac.stdout).toMatch(/^tampered: .*forged \d+/);
    expect(hmac.stdout).toMatch(/^forged {2}checkpoint {2}\S+ {2}chain \S+ {2}seq - {2}checkpoint 1: signed by an unknown key ed25519:/m);
  });

  it('bad arguments: exit 2, a message naming the flag, no stack, nothing on stdout', async () => {
    const cases: Array<[string[], string]> = [
      [['--key', join(dir, 'missing.pem')], 'cannot read'],
      [['--key', anchorsFile], 'holds no PEM key'],
      [['--hmac-secret-env', 'ACTIONLOG_NO_SUCH_VARIABLE'], 'ACTIONLOG_NO_SUCH_VARIABLE is not set'],
      [['--anchors', keyFile], 'line 1 is not JSON'],
      [['--max-findings', '0'], 'must be a whole number from 1 on'],
      [['--key', keyFile, '--from', 'yesterday'], '--from: must be a valid date'],
      [['--key', keyFile, '--to', '+010000-01-01T00:00:00Z'], '--to: must be between the years 0000 and 9999'],
      [['--no-such-flag'], "unknown option '--no-such-flag'"],
      [['--hmac-secret-env', 'AUDIT_SECRET'], 'the secret in AUDIT_SECRET: an HMAC secret must be at least 16 bytes'],
    ];
    // The case of a secret set in the environment runs in a process of its own: this one's environment stays as it is.
    const runs = await Promise.all(
      cases.map(([args]) =>
        args.includes('AUDIT_SECRET') ? spawnCli(['verify', ...args, ...db.args], { env: { AUDIT_SECRET: 'too short' } }) : verify(...args),
      ),
    );
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toContain(message);
      expect(run.stderr, args.join(' ')).not.toMatch(STACK_FRAME);
      expect(run.stdout, args.join(' ')).toBe('');
    }
  });

  it('entries no checkpoint covers yet: exit 2, "unverifiable" with the reason; intact again once checkpointed', async () => {
    const writer = sealingLogger(db.store, keys.privateKey);
    await writer.run({ module: 'orders' }, async () => {
      writer.record({ action: 'refund' });
    });
    await writer.flush();
    const run = await verify('--key', keyFile);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^unverifiable: .* in 2 chains, .*; unconfirmed 2\n/);
    expect(run.stdout).toMatch(new RegExp(`^unconfirmed {2}\\S+ {2}\\S+ {2}chain ${writer.integrityChain!} {2}seq 1\\.\\.2 `, 'm'));
    expect(run.stdout).toMatch(/\nunverifiable: 2 links are newer than every checkpoint of their chain\n$/);
    await writer.close();
    expect((await verify('--key', keyFile)).code).toBe(0);
  });

  it('a field changed in the database: exit 1, naming it modified with its chain and sequence', async () => {
    const [target] = await entriesOf(db.store, 'actions');
    const link = target!.entry.integrity!;
    await db.setNote(target!.position.id, 'rewritten');
    const run = await verify('--key', keyFile, '--anchors', anchorsFile);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^tampered: .*; modified 1\n/);
    expect(run.stdout).toContain(`modified  actions  ${target!.position.id}  chain ${link.chain}  seq ${link.seq}  `);
    const json = JSON.parse((await verify('--key', keyFile, '--json')).stdout) as VerifyReport;
    expect(json.findings).toEqual([expect.objectContaining({ problem: 'modified', kind: 'actions', chain: link.chain, seq: link.seq })]);
  });

  it('purge or archive on the sealed trail without its signing key, or with another: exit 2, nothing deleted', async () => {
    const before = await entriesOf(db.store, 'actions');
    const until = new Date(Date.now() + 60_000).toISOString();
    for (const command of [['purge'], ['archive', '--to', join(dir, `refused-${kind}.jsonl`)]]) {
      const run = await runCli([...command, '--before', until, ...db.args]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^actionlog: Invalid arguments: the trail has signed checkpoints: give the key that signs them/);
      expect(run.stderr).not.toMatch(STACK_FRAME);
      const other = await runCli([...command, '--before', until, '--signing-key', otherSigningKeyFile, ...db.args]);
      expect(other.code).toBe(2);
      expect(other.stderr).toMatch(
        /--signing-key: signs none of the trail's checkpoints \(key ed25519:\S+; they are signed by ed25519:\S+\)/,
      );
    }
    expect(await entriesOf(db.store, 'actions')).toHaveLength(before.length);
    // A key rotated in signs no checkpoint yet: --new-key says so (here nothing is old enough to go).
    const rotated = await runCli([
      'purge',
      '--before',
      '2000-01-01',
      '--signing-key',
      otherSigningKeyFile,
      '--new-key',
      '--json',
      ...db.args,
    ]);
    expect(rotated.stderr).toBe('');
    expect(JSON.parse(rotated.stdout)).toMatchObject({ total: 0 });
  });

  it('the trail archived with its signing key: pruned and intact alone, checked whole with --archive (the entry modified before named)', async () => {
    const file = join(dir, `archive-${kind}.jsonl`);
    const until = new Date(Date.now() + 60_000).toISOString();
    const anchoredBefore = readFileSync(anchorsFile, 'utf8').trim().split('\n').length;
    const moved = await runCli([
      'archive',
      '--before',
      until,
      '--to',
      file,
      '--signing-key',
      signingKeyFile,
      '--anchor-to',
      anchorsFile,
      ...db.args,
    ]);
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    // The checkpoint that records what the archive moved is anchored with the others.
    const anchored = readFileSync(anchorsFile, 'utf8').trim().split('\n');
    expect(anchored.length).toBeGreaterThan(anchoredBefore);
    const added = anchored.slice(anchoredBefore).map((line) => JSON.parse(line) as CheckpointDocument);
    expect(added.length).toBeGreaterThan(0);
    expect(added.every((c) => c.pruned.length > 0 && c.pruned.every((r) => r.archived === true))).toBe(true);
    const alone = JSON.parse((await verify('--key', keyFile, '--json')).stdout) as VerifyReport;
    expect(alone.summary.entries).toBe(0);
    expect(alone.findings.filter((f) => f.problem !== 'pruned')).toEqual([]);
    expect(alone.status).toBe('intact');
    const run = await verify('--key', keyFile, '--anchors', anchorsFile, '--archive', file);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^tampered: \d+ entries, \d+ links in \d+ chains, \d+ checkpoints, 0 legacy; modified 1\n/);
    const missing = await verify('--key', keyFile, '--archive', join(dir, 'no-such-archive.jsonl'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--archive.*cannot read .*no-such-archive\.jsonl: ENOENT/);
    // Nothing is left to delete, and --unrecorded lets a purge run without the key.
    const purge = await runCli(['purge', '--before', until, '--unrecorded', '--json', ...db.args]);
    expect(purge.code).toBe(0);
    expect(JSON.parse(purge.stdout)).toMatchObject({ total: 0 });
  });
});

describe('actionlog verify, whatever the database', () => {
  it('--help: its flags, the database flags, examples and exit codes', async () => {
    const help = await runCli(['verify', '--help']);
    expect(help.code).toBe(0);
    for (const line of [
      'Usage: actionlog verify [options]',
      /--key <file>\s+PEM file of an Ed25519 public key/,
      /--hmac-secret-env <name>\s+environment variable holding the HMAC secret/,
      /--anchors <file>\s+JSON lines of the checkpoints/,
      /--archive <file>\s+a file actionlog archive wrote/,
      /--max-findings <n>/,
      /--json\s+print the report as JSON/,
      /--mongodb <uri>/,
      'Examples:\n  $ actionlog verify ',
      '1 verify found tampering',
    ]) {
      expect(help.stdout).toMatch(line);
    }
  });
});
