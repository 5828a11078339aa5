import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { createActionLogger, SqlStore } from 'actionlog';
import { createPostgresDatabase, SQL_KINDS, type SqlKind } from '../support/sql.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const writerScript = fileURLToPath(new URL('../support/tail-writer.ts', import.meta.url));
const PER_WRITER = 400;

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** A database two processes can share: a SQLite file (WAL), or a fresh PostgreSQL database. */
async function sharedDatabase(kind: SqlKind): Promise<{ dataSource: DataSource; address: string }> {
  let address: string;
  if (kind === 'sqlite') {
    const folder = mkdtempSync(join(tmpdir(), 'actionlog-tail-'));
    cleanups.push(async () => {
      rmSync(folder, { recursive: true, force: true });
    });
    address = join(folder, 'trail.db');
  } else {
    const created = await createPostgresDatabase();
    cleanups.push(created.drop);
    address = created.url;
  }
  const dataSource = new DataSource(
    kind === 'postgres' ? { type: 'postgres', url: address } : { type: 'better-sqlite3', database: address, enableWAL: true },
  );
  await dataSource.initialize();
  cleanups.unshift(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
  });
  return { dataSource, address };
}

/** Starts a writer process (test/support/tail-writer.ts): resolves once it is ready to write, with its run to the end. */
async function writerProcess(kind: SqlKind, address: string, name: string): Promise<{ go(): void; done: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, kind, address, name, String(PER_WRITER)], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0 && stderr === '') resolve();
      else reject(new Error(`writer ${name} exited with ${code}: ${stderr}`));
    });
  });
  await Promise.race([new Promise((resolve) => child.once('message', resolve)), done]);
  return { go: () => child.send('go'), done };
}

describe.each(SQL_KINDS)('tail on %s with two writer processes', (kind) => {
  it('delivers every entry once, in stored order, none missed', async () => {
    const { dataSource, address } = await sharedDatabase(kind);
    const store = new SqlStore({ dataSource });
    const logger = createActionLogger({ store, flushIntervalMs: 0, onError: (e) => expect.fail(e.message) });
    await logger.run({}, () => logger.record({ action: 'before', note: 'before' }));
    await logger.flush();

    const abort = new AbortController();
    const notes: string[] = [];
    const cursors: string[] = [];
    let started: () => void = () => undefined;
    const following = new Promise<void>((resolve) => (started = resolve));
    const tailing = (async () => {
      for await (const { entry, cursor } of logger.tail({ kind: 'actions' }, { signal: abort.signal, pollMs: 50 })) {
        if (entry.note === 'go') started();
        notes.push(entry.note ?? '');
        cursors.push(cursor);
        if (notes.length === 1 + 2 * PER_WRITER) break;
      }
    })();
    try {
      // The tail starts from now: once it has seen "go", everything the writers store comes after it.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await logger.run({}, () => logger.record({ action: 'go', note: 'go' }));
      await logger.flush();
      await following;
      const writers = await Promise.all([writerProcess(kind, address, 'a'), writerProcess(kind, address, 'b')]);
      for (const writer of writers) writer.go();
      await Promise.all(writers.map((writer) => writer.done));
      // Every entry is stored now; the tail has a few poll intervals to deliver what it has not yet.
      const deadline = setTimeout(() => {
        abort.abort();
      }, 10_000);
      await tailing;
      clearTimeout(deadline);
    } finally {
      abort.abort();
      await tailing;
    }

    expect(notes[0]).toBe('go');
    for (const writer of ['a', 'b']) {
      const mine = notes.filter((note) => note.startsWith(`${writer}:`)).map((note) => Number(note.slice(2)));
      expect(mine).toEqual(Array.from({ length: PER_WRITER }, (_, i) => i));
    }
    // The very order the store reads back once all is written, after "before": nothing out of place.
    const everything = await store.query({ kind: 'actions', filter: {}, by: 'stored', order: 'asc', limit: 1000 });
    expect(everything.map((s) => s.entry.note)).toEqual(['before', ...notes]);
    // The writes of the two processes did interleave (else this test would prove little).
    const switches = notes.slice(2).filter((note, i) => note[0] !== notes[i + 1]![0]).length;
    expect(switches).toBeGreaterThan(2);
    // Resuming after the last cursor finds nothing more: each entry was delivered once.
    const more = logger.tail({ kind: 'actions' }, { after: cursors.at(-1), pollMs: 50, signal: AbortSignal.timeout(300) });
    const extra: string[] = [];
    for await (const { entry } of more) extra.push(entry.note ?? '');
    expect(extra).toEqual([]);
    await logger.close();
    await store.close();
  }, 120_000);
});
