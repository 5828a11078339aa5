import { createWriteStream } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ActionLogger,
  type ActionLoggerOptions,
  ActionLogValidationError,
  createActionLogger,
  MemoryStore,
  type Store,
  type VerifyFinding,
} from 'actionlog';
import { STORE_KINDS } from '../support/every-store.js';
import { ed25519, entriesOf, KINDS, openTamperable, writeTrail } from '../support/trail.js';
import { archiveFileSources } from '../../src/read/verify/archive-file.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const named = (findings: VerifyFinding[], problem: VerifyFinding['problem']) => findings.filter((f) => f.problem === problem);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A moment with entries written before it and after it, never in the same millisecond. */
async function betweenMilliseconds(): Promise<Date> {
  await sleep(5);
  const cut = new Date();
  await sleep(5);
  return cut;
}

/** Every entry of a store, of every kind. */
const countAll = async (store: Store) => (await Promise.all(KINDS.map((k) => entriesOf(store, k)))).flat().length;

/** A new archive file's path, in a folder removed after the test. */
async function archiveFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'actionlog-verify-archive-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'archive.jsonl');
}

/** `logger.archive` to a store, or appending to a file as `actionlog archive --to` does. */
async function archiveTo(logger: ActionLogger, target: Store | string, before?: Date) {
  if (typeof target !== 'string') return logger.archive({ to: target, batchSize: 3, ...(before ? { before } : {}) });
  const out = createWriteStream(target, { flags: 'a' });
  try {
    return await logger.archive({ to: out, batchSize: 3, ...(before ? { before } : {}) });
  } finally {
    await new Promise<void>((resolve) => out.end(resolve));
  }
}

describe.each(STORE_KINDS)('verify with the archives, on %s', (kind) => {
  /** A store on a fresh database, a key, loggers that seal with it, and verify of the store with archives. */
  async function sealedStore() {
    const tamperable = await openTamperable(kind);
    cleanups.push(() => tamperable.close());
    const { store } = tamperable;
    const keys = ed25519();
    const logger = (options: Partial<ActionLoggerOptions> = {}) =>
      createActionLogger({ store, retentionDays: 30, ...options, integrity: { key: keys.privateKey, checkpointEvery: 5 } });
    const verify = async (archives: Array<Store | string>) => {
      const reader = createActionLogger({ store });
      const report = await reader.verify({ keys: [keys.publicKey], archives });
      await reader.close();
      return report;
    };
    return { store, logger, verify };
  }

  /** A sealed trail whose entries expire (they carry `expires_at`), its older part archived to `target`. */
  async function archivedTrail(target: Store | string) {
    const { store, logger, verify } = await sealedStore();
    const writer = logger();
    await writeTrail(writer, 3);
    const cut = await betweenMilliseconds();
    await writeTrail(writer, 3);
    const total = await countAll(store);
    const moved = await archiveTo(writer, target, cut);
    await writer.close();
    // The first part's three runs and its closing one.
    expect(moved.requests).toBe(4);
    return { store, total, verify };
  }

  it('checks the entries archived to a file with the trail: intact, nothing pruned; without the file, pruned', async () => {
    const file = await archiveFile();
    const { total, verify } = await archivedTrail(file);
    const alone = await verify([]);
    expect(alone.status).toBe('intact');
    // The older part, moved a batch at a time, each batch recorded on its own: one range from the chain's start.
    expect(named(alone.findings, 'pruned')).toEqual([expect.objectContaining({ seq: 1, to_seq: alone.summary.counts.pruned })]);
    const both = await verify([file]);
    expect(both.findings).toEqual([]);
    expect(both.status).toBe('intact');
    expect(both.summary.entries).toBe(total);
  });

  it('reads a batch an archive run wrote twice, and a line glued to a torn one, as the entries they copy', async () => {
    const file = await archiveFile();
    const { verify } = await archivedTrail(file);
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

  it('reads an entry both in the trail and in the file (a run killed between copy and delete) as one', async () => {
    const file = await archiveFile();
    const { store, total, verify } = await archivedTrail(file);
    // The next batch was copied, and the run killed before it deleted it from the store.
    const copied = (await Promise.all(KINDS.map(async (k) => (await entriesOf(store, k)).slice(0, 3).map((s) => ({ k, s }))))).flat();
    const lines = copied.map(({ k, s }) => JSON.stringify({ kind: k, _id: s.position.id, entry: s.entry }));
    await appendFile(file, `${lines.join('\n')}\n`);
    const report = await verify([file]);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.summary.entries).toBe(total + copied.length);
  });

  it('reads a torn last line, of a run killed mid-write and not rerun, as a reason it could not verify', async () => {
    const file = await archiveFile();
    const { verify } = await archivedTrail(file);
    const [first] = (await readFile(file, 'utf8')).split('\n');
    await appendFile(file, first!.slice(0, 50));
    const report = await verify([file]);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('unverifiable');
    expect(report.unverifiable).toEqual([
      expect.stringMatching(/^archives\.0: the last line of .* is cut short .*, 50 bytes left unread$/),
    ]);
  });

  it('names an archived entry modified, deleted, or a second one at its sequence, in the file', async () => {
    const file = await archiveFile();
    const { verify } = await archivedTrail(file);
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    const parsed = lines.map((line) => JSON.parse(line) as { kind: string; _id: string; entry: Record<string, unknown> });
    const actionAt = parsed.findIndex((line) => line.kind === 'actions');
    const action = parsed[actionAt]!;
    const edited = { ...action, entry: { ...action.entry, note: 'rewritten' } };
    const activityAt = parsed.findIndex((line) => line.kind === 'activities');
    const dropped = parsed[activityAt]!.entry.integrity as { chain: string; seq: number };
    const changeAt = parsed.findIndex((line) => line.kind === 'changes');
    const change = parsed[changeAt]!;
    const link = change.entry.integrity as { chain: string; seq: number; hash: string };
    // Another entry sealed at the change's sequence: a link of its own (another hash), as a forger would make it.
    const second = { ...change, _id: 'forged', entry: { ...change.entry, integrity: { ...link, hash: 'f'.repeat(64) } } };
    const tampered = lines.map((line, i) => (i === actionAt ? JSON.stringify(edited) : line)).filter((_, i) => i !== activityAt);
    tampered.splice(changeAt + 1, 0, JSON.stringify(second));
    await writeFile(file, `${tampered.join('\n')}\n`);

    const report = await verify([file]);
    expect(report.status).toBe('tampered');
    const { chain, seq } = action.entry.integrity as { chain: string; seq: number };
    const modified = named(report.findings, 'modified');
    expect(modified).toHaveLength(2);
    expect(modified).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'changes', id: 'forged', chain: link.chain, seq: link.seq }),
        expect.objectContaining({ kind: 'actions', id: action._id, chain, seq }),
      ]),
    );
    expect(named(report.findings, 'inserted')).toEqual([expect.objectContaining({ kind: 'changes', chain: link.chain, seq: link.seq })]);
    const deleted = named(report.findings, 'deleted');
    expect(deleted).toEqual([expect.objectContaining({ chain: dropped.chain, seq: dropped.seq, to_seq: dropped.seq })]);
    expect(deleted[0]?.message).toMatch(/in none of the archives given/);

    // A line that is not an entry is left out, said, and what it held shows as missing.
    await appendFile(file, 'not json\n');
    const unread = await verify([file]);
    expect(unread.status).toBe('tampered');
    expect(unread.unverifiable).toEqual([
      expect.stringMatching(/^archives\.0: the line at byte \d+ of .* is not an archived entry with a kind and a time$/),
    ]);
  });

  it('checks a file whose later run moved entries older than an earlier run did, and a purge beside it', async () => {
    const { store, logger, verify } = await sealedStore();
    const older = logger();
    await writeTrail(older, 2);
    await older.close();
    const cut = await betweenMilliseconds();
    // Its checkouts expire in a second: the first archive run, without `before`, moves them alone.
    const newer = logger({ retention: { actionTypes: { checkout: 1 / 86_400 } } });
    await writeTrail(newer, 2);
    const total = await countAll(store);
    await sleep(1100);
    const file = await archiveFile();
    expect((await archiveTo(newer, file)).actions).toBe(2);
    // The second run moves everything before the cut: older than what the first one moved.
    expect((await archiveTo(newer, file, cut)).actions).toBeGreaterThan(2);
    // A purge deletes what is left: pruned, with or without the archives.
    const purged = await newer.purge({ before: new Date() });
    await newer.close();
    expect(purged.requests).toBeGreaterThan(0);
    const report = await verify([file]);
    expect(report.findings.filter((f) => f.problem !== 'pruned')).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.summary.counts.pruned).toBeGreaterThan(0);
    expect(report.summary.entries).toBe(total - purged.requests - purged.actions - purged.changes - purged.activities);
  });

  it('checks the entries archived to another store, which keeps their expires_at in their links', async () => {
    const archive = new MemoryStore();
    const { store, total, verify } = await archivedTrail(archive);
    const [copy] = await entriesOf(archive, 'activities');
    expect(copy!.entry).not.toHaveProperty('expires_at');
    expect(copy!.entry.integrity!.expires_at).toBeDefined();
    const report = await verify([archive]);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.summary.entries).toBe(total);
    await expect(verify([store])).rejects.toThrow(/archives\.0: is the store verified/);
  });
});

describe('the sources of an archive file', () => {
  it('are, per kind, runs of lines whose times never go back, together every line once', async () => {
    const file = await archiveFile();
    const line = (kind: string, id: number, minute: number) => {
      const time = new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString();
      const entry = kind === 'actions' ? { emitted_at: time } : { timestamp: time };
      return JSON.stringify({ kind, _id: String(id), entry });
    };
    // A first run moved actions of minutes 30-31 (expired early), a second everything before minute 20.
    const lines = [line('actions', 1, 30), line('actions', 2, 31), line('requests', 3, 5), line('actions', 4, 5), line('actions', 5, 6)];
    await writeFile(file, `${lines.join('\n')}\n`);
    const { sources, notes } = await archiveFileSources({ file, path: 'archives.0', window: {}, pageSize: 1 });
    expect(notes).toEqual([]);
    const read: Array<{ kind: string; ids: string[] }> = [];
    for (const source of sources) {
      const ids: string[] = [];
      for (let page = await source.pages.next(); !page.done; page = await source.pages.next())
        ids.push(...page.value.map((s) => s.position.id));
      read.push({ kind: source.kind, ids });
    }
    expect(read).toEqual([
      { kind: 'actions', ids: ['1', '2'] },
      { kind: 'actions', ids: ['4', '5'] },
      { kind: 'requests', ids: ['3'] },
    ]);
  });

  it('read CRLF lines, text of several bytes a character, a line longer than a read and no final newline', async () => {
    const file = await archiveFile();
    const long = 'x'.repeat(200_000);
    const line = (id: number, minute: number, note: string) =>
      JSON.stringify({
        kind: 'actions',
        _id: String(id),
        entry: { emitted_at: new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString(), note },
      });
    const lines = [line(1, 1, 'naïve – 日本語 🙂'), line(2, 2, long), '', line(3, 0, 'older: a run of its own'), line(4, 3, 'last')];
    await writeFile(file, lines.join('\r\n'));
    const { sources, notes } = await archiveFileSources({ file, path: 'archives.0', window: {}, pageSize: 1 });
    expect(notes).toEqual([]);
    const read: Array<{ id: string; note: unknown }> = [];
    for (const source of sources)
      for (let page = await source.pages.next(); !page.done; page = await source.pages.next())
        read.push(...page.value.map((s) => ({ id: s.position.id, note: (s.entry as { note?: unknown }).note })));
    expect(read).toEqual([
      { id: '1', note: 'naïve – 日本語 🙂' },
      { id: '2', note: long },
      { id: '3', note: 'older: a run of its own' },
      { id: '4', note: 'last' },
    ]);
  });
});

describe('verify archives option', () => {
  it('refuses what is neither a store nor a readable file, naming it', async () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    const refused = logger.verify({ archives: [new MemoryStore(), 42 as never, '/no/such/archive.jsonl', tmpdir()] });
    await expect(refused).rejects.toThrow(ActionLogValidationError);
    await expect(refused).rejects.toThrow(/archives\.1: must be a Store or the path of an archive file/);
    await expect(refused).rejects.toThrow(/archives\.2: cannot read \/no\/such\/archive\.jsonl: ENOENT/);
    await expect(refused).rejects.toThrow(/archives\.3: .* is not a file/);
    await logger.close();
  });
});
