import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { ActionLogConfigError, createActionLogger, MemoryStore } from 'actionlog';
import { answeredAtLeast, expectEveryAnsweredStoredOnce, load, startServer, storedCountsIn } from './support/server-process.js';

const folder = mkdtempSync(join(tmpdir(), 'actionlog-shutdown-'));
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

/** Starts the server process, loads it with 16 concurrent clients, sends SIGTERM under load, waits for its end. */
async function terminateUnderLoad(file: string, mode: 'own-handler' | 'no-handler') {
  const server = await startServer(file, mode);
  const answered: string[] = [];
  let stop = false;
  const clients = load(server.base, 16, () => stop, answered);
  // Under load: a hundred answers in, some documents are queued, some requests in flight.
  await answeredAtLeast(answered, 100);
  server.child.kill('SIGTERM');
  // The clients go on for a while after the signal, then leave (as a load balancer stops sending to a stopping server).
  await sleep(500);
  stop = true;
  await clients;
  const end = await server.exited;
  return { answered, ...end, ...server.output };
}

describe('installShutdownHandlers, SIGTERM under load', () => {
  it('without a handler of the app: stops the server, stores every answered request, and exits by the signal', async () => {
    const file = join(folder, 'no-handler.db');
    const outcome = await terminateUnderLoad(file, 'no-handler');
    expect(outcome.stderr).toBe('');
    expect({ code: outcome.code, signal: outcome.signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expectEveryAnsweredStoredOnce(outcome.answered, await storedCountsIn(file));
  });

  it("with the app's own handler: that handler runs, the process ends as the app decides, every answered request stored", async () => {
    const file = join(folder, 'own-handler.db');
    const outcome = await terminateUnderLoad(file, 'own-handler');
    expect(outcome.stdout).toContain('app handler ran');
    expect(outcome.stderr).toBe('');
    expect({ code: outcome.code, signal: outcome.signal }).toEqual({ code: 0, signal: null });
    expectEveryAnsweredStoredOnce(outcome.answered, await storedCountsIn(file));
  });
});

describe('installShutdownHandlers', () => {
  it('refuses bad options, naming them, and uninstalls what it installed', async () => {
    const logger = createActionLogger({ store: new MemoryStore() });
    expect(() => logger.installShutdownHandlers({ signals: ['SIGNOPE' as NodeJS.Signals] })).toThrow(ActionLogConfigError);
    expect(() => logger.installShutdownHandlers({ signals: ['SIGNOPE' as NodeJS.Signals] })).toThrow(/signals\.0/);
    expect(() => logger.installShutdownHandlers({ timeout: -1 })).toThrow(/timeout/);
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGUSR2')];
    const uninstall = logger.installShutdownHandlers({ signals: ['SIGTERM', 'SIGUSR2'] });
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGUSR2')]).toEqual([before[0]! + 1, before[1]! + 1]);
    uninstall();
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGUSR2')]).toEqual(before);
    await logger.close();
  });
});
