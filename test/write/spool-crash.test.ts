import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { answeredAtLeast, expectEveryAnsweredStoredOnce, load, startServer, storedCountsIn } from '../support/server-process.js';

const folder = mkdtempSync(join(tmpdir(), 'actionlog-crash-'));
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

const KILLS = 5;

describe('spool: a server killed with SIGKILL under load', () => {
  it(`stores every request that got a response exactly once, after ${KILLS} kills at random moments`, async () => {
    const file = join(folder, 'trail.db');
    const spool = join(folder, 'spool');
    const answered: string[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const server = await startServer(file, 'no-handler', spool);
      let stop = false;
      const clients = load(server.base, 16, () => stop, answered);
      // Under load, at a moment of its own: some documents queued, some being written, some requests in flight.
      await answeredAtLeast(answered, answered.length + 50);
      await sleep(Math.random() * 400);
      server.child.kill('SIGKILL');
      expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
      stop = true;
      await clients;
    }
    // The next process adopts what the killed ones left in the spool and stores it; SIGTERM drains it.
    const last = await startServer(file, 'no-handler', spool);
    last.child.kill('SIGTERM');
    expect(await last.exited).toEqual({ code: null, signal: 'SIGTERM' });
    // A kill during a write can tear the last line of a file (the kernel stops a write short for a fatal signal):
    // that line's request got no response, and the line is reported and skipped. Nothing else is said.
    const reports = last.output.stderr.split('\n').filter((line) => line !== '' && !/has no end \(torn by a crash/.test(line));
    expect(reports).toEqual([]);
    expectEveryAnsweredStoredOnce(answered, await storedCountsIn(file));
    expect(readdirSync(spool).filter((f) => f.endsWith('.spool'))).toEqual([]);
  });
});
