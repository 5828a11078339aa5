import { createWriteStream, WriteStream } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActionLogValidationError, createActionLogger, MemoryStore, type Store, type VerifyFinding } from 'actionlog';
import { STORE_KINDS } from '../support/every-store.js';
import { ed25519, entriesOf, KINDS, openTamperable, type TamperableStore, writeTrail } from '../support/trail.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const named = (findings: VerifyFinding[], problem: VerifyFinding['problem']) => findings.filter((f) => f.problem === problem);

/** A moment with entries written before it and after it, never in the same millisecond. */
async function betweenMilliseconds(): Promise<Date> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  const cut = new Date();
  await new Promise((resolve) => setTimeout(resolve, 5));
  return cut;
}

/** Every entry of a store, of every kind. */
const countAll = async (store: Store) => (await Promise.all(KINDS.map((k) => entriesOf(store, k)))).flat().length;

describe.each(STORE_KINDS)('verify with the archives, on %s', (kind) => {
  /**
   * A sealed trail whose entries expire (they carry `expires_at`), its older half archived to `to`; returns what
   * verify needs and how many entries there were before.
   */
  async function archivedTrail(to: () => Promise<Store | string>) {
    const tamperable: TamperableStore = await openTamperable(kind);
    cleanups.push(() => tamperable.close());
    const { store } = tamperable;
    const keys = ed25519();
    const logger = createActionLogger({ store, retentionDays: 30, integrity: { key: keys.privateKey, checkpointEvery: 5 } });
    await writeTrail(logger, 3);
    const cut = await betweenMilliseconds();
    await writeTrail(logger, 3);
    const total = await countAll(store);
    const target = await to();
    const out = typeof target === 'string' ? createWriteStream(target, { flags: 'a' }) : target;
    const moved = await logger.archive({ before: cut, to: out, batchSize: 3 });
    if (out instanceof WriteStream) await new Promise<void>((resolve) => out.end(resolve));
    await logger.close();
    // The first part's three runs and its closing one.
    expect(moved.requests).toBe(4);
    const verify = async (archives: Array<Store | string>) => {
      const reader = createActionLogger({ store });
      const report = await reader.verify({ keys: [keys.publicKey], archives });
      await reader.close();
      return report;
    };
    return { store, target, total, verify };
  }

  async function archiveFile() {
    const dir = await mkdtemp(join(tmpdir(), 'actionlog-verify-archive-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return join(dir, 'archive.jsonl');
  }

  it('checks the entries archived to a file with the trail: intact, nothing pruned; without the file, pruned', async () => {
    const { target, total, verify } = await archivedTrail(archiveFile);
    const alone = await verify([]);
    expect(alone.status).toBe('intact');
    expect(alone.summary.counts.pruned).toBeGreaterThan(0);
    const both = await verify([target]);
    expect(both.findings).toEqual([]);
    expect(both.status).toBe('intact');
    expect(both.summary.entries).toBe(total);
  });

  it('reads a batch an archive run wrote twice, and a line glued to a torn one, as the entries they copy', async () => {
    const { target, verify } = await archivedTrail(archiveFile);
    const file = target as string;
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    // A run killed after writing its first batch (3 lines) copied it again when rerun; one killed mid-write left half
    // of a line, and its rerun appended the whole line to that half.
    const torn = lines[3]!.slice(0, 40);
    const rewritten = [...lines.slice(0, 3), ...lines.slice(0, 3), torn + lines[3]!, ...lines.slice(4)];
    await writeFile(file, `${rewritten.join('\n')}\n`);
    const report = await verify([file]);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('intact');
  });

  it('names an archived entry modified, deleted, or a line that is not an entry, in the file', async () => {
    const { target, verify } = await archivedTrail(archiveFile);
    const file = target as string;
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    const parsed = lines.map((line) => JSON.parse(line) as { kind: string; _id: string; entry: Record<string, unknown> });
    const actionAt = parsed.findIndex((line) => line.kind === 'actions');
    const action = parsed[actionAt]!;
    const edited = { ...action, entry: { ...action.entry, note: 'rewritten' } };
    const activityAt = parsed.findIndex((line) => line.kind === 'activities');
    const dropped = parsed[activityAt]!.entry.integrity as { chain: string; seq: number };
    const tampered = lines.map((line, i) => (i === actionAt ? JSON.stringify(edited) : line)).filter((_, i) => i !== activityAt);
    await writeFile(file, `${tampered.join('\n')}\n`);

    const report = await verify([file]);
    expect(report.status).toBe('tampered');
    const { chain, seq } = action.entry.integrity as { chain: string; seq: number };
    expect(named(report.findings, 'modified')).toEqual([expect.objectContaining({ kind: 'actions', id: action._id, chain, seq })]);
    const deleted = named(report.findings, 'deleted');
    expect(deleted).toEqual([expect.objectContaining({ chain: dropped.chain, seq: dropped.seq, to_seq: dropped.seq })]);
    expect(deleted[0]?.message).toMatch(/in none of the archives given/);

    await appendFile(file, 'not json\n');
    await expect(verify([file])).rejects.toThrow(/archives\.0: line \d+ of .* is not an archived entry/);
  });

  it('checks the entries archived to another store, which keeps them without expires_at', async () => {
    const archive = new MemoryStore();
    const { total, verify } = await archivedTrail(async () => archive);
    // The copies lost their expires_at: the date an entry goes is not part of what its link proves.
    const [copy] = await entriesOf(archive, 'activities');
    expect(copy!.entry).not.toHaveProperty('expires_at');
    const report = await verify([archive]);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.summary.entries).toBe(total);
  });
});

describe('verify archives option', () => {
  it('refuses what is neither a store nor a readable file, naming it', async () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    const refused = logger.verify({ archives: [new MemoryStore(), 42 as never, '/no/such/archive.jsonl'] });
    await expect(refused).rejects.toThrow(ActionLogValidationError);
    await expect(refused).rejects.toThrow(/archives\.1: must be a Store or the path of an archive file/);
    await expect(refused).rejects.toThrow(/archives\.2: cannot read \/no\/such\/archive\.jsonl: ENOENT/);
    await logger.close();
  });
});
