import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { createActionLogger, SqlStore } from 'actionlog';
import { eventually, finished, startCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'actionlog-tail-pipe-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('tail | head -1', () => {
  it('tail exits once its reader is gone, without waiting for one more entry', async () => {
    const file = join(dir, `${randomUUID()}.db`);
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
    const logger = createActionLogger({ store: new SqlStore({ dataSource }), flushIntervalMs: 0 });
    await logger.run({ user: { id: 'u0', name: 'Ada' } }, () => logger.record({ action: 'create' }));
    await logger.flush();
    const child = startCli(['tail', '--sqlite', file, '--kind', 'actions', '--poll-ms', '100']);
    try {
      await eventually(() => child.out.stderr.includes('following actions'), 30_000, 'the tail to start');
      // As `head -1` does: read the first chunk, then close the pipe.
      const pipe = { closed: false };
      child.stdout!.once('data', () => {
        child.stdout!.destroy();
        pipe.closed = true;
      });
      let n = 0;
      while (!pipe.closed && n < 50) {
        await logger.run({ user: { id: 'u1', name: 'Ada' } }, () => logger.record({ action: 'create', note: String(++n) }));
        await logger.flush();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(pipe.closed).toBe(true);
      // One more entry: its write meets the closed pipe (EPIPE), as the next line of `tail -f | head -1` does.
      await logger.run({ user: { id: 'u1', name: 'Ada' } }, () => logger.record({ action: 'create', note: 'after' }));
      await logger.flush();
      const exited = await Promise.race([
        finished(child).then(() => true),
        new Promise<boolean>((resolve) =>
          setTimeout(() => {
            resolve(false);
          }, 5000),
        ),
      ]);
      expect(exited).toBe(true);
    } finally {
      child.kill('SIGINT');
      await logger.close();
      await dataSource.destroy();
    }
  });
});
