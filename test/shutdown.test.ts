import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { ActionLogConfigError, createActionLogger, MemoryStore, SqlStore } from 'actionlog';

const root = fileURLToPath(new URL('../', import.meta.url));
const serverScript = fileURLToPath(new URL('./support/shutdown-server.ts', import.meta.url));
const folder = mkdtempSync(join(tmpdir(), 'actionlog-shutdown-'));
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

/** POSTs once; the request id of a 201, or undefined when the server did not answer. */
function post(base: string, agent: Agent, id: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(`${base}/orders/${id}`, { method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => {
        resolve(res.statusCode === 201 ? String(res.headers['x-request-id']) : undefined);
      });
      res.on('error', () => {
        resolve(undefined);
      });
    });
    req.on('error', () => {
      resolve(undefined);
    });
    req.end();
  });
}

interface Outcome {
  answered: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the server process, loads it with 16 concurrent clients, sends SIGTERM under load, waits for its end. */
async function terminateUnderLoad(file: string, mode: 'own-handler' | 'no-handler'): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', serverScript, file, mode], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const base = await new Promise<string>((resolve, reject) => {
    child.once('message', (url: string) => {
      resolve(url);
    });
    void exited.then(() => {
      reject(new Error(`the server exited before listening: ${stderr}`));
    });
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const answered: string[] = [];
  let stop = false;
  let next = 0;
  const worker = async () => {
    for (let failures = 0; !stop && failures < 3;) {
      const id = await post(base, agent, next++);
      if (id) answered.push(id);
      else failures++;
    }
  };
  const load = Promise.all(Array.from({ length: 16 }, worker));
  // Under load: a hundred answers in, some documents are queued, some requests in flight.
  for (const started = Date.now(); answered.length < 100 && Date.now() - started < 20_000;) await sleep(10);
  expect(answered.length).toBeGreaterThanOrEqual(100);
  child.kill('SIGTERM');
  // The clients go on for a while after the signal, then leave (as a load balancer stops sending to a stopping server).
  await sleep(500);
  stop = true;
  await load;
  agent.destroy();
  const end = await exited;
  return { answered, ...end, stdout, stderr };
}

/** How many times each request id is stored in the SQLite file. */
async function storedCounts(file: string): Promise<Map<string, number>> {
  const dataSource = new DataSource({ type: 'better-sqlite3', database: file });
  await dataSource.initialize();
  const logger = createActionLogger({ store: new SqlStore({ dataSource }) });
  const counts = new Map<string, number>();
  for (let cursor: string | undefined, first = true; first || cursor; first = false) {
    const page = await logger.query({ kind: 'requests' }, { limit: 1000, cursor });
    for (const doc of page.items) counts.set(doc.request_uuid, (counts.get(doc.request_uuid) ?? 0) + 1);
    cursor = page.next_cursor ?? undefined;
  }
  await logger.close();
  await dataSource.destroy();
  return counts;
}

function expectEveryAnsweredStoredOnce(answered: string[], counts: Map<string, number>): void {
  const missing = answered.filter((id) => !counts.has(id));
  const twice = answered.filter((id) => (counts.get(id) ?? 0) > 1);
  expect({ answered: answered.length, missing, twice }).toEqual({ answered: answered.length, missing: [], twice: [] });
}

describe('installShutdownHandlers, SIGTERM under load', () => {
  it('without a handler of the app: stops the server, stores every answered request, and exits by the signal', async () => {
    const file = join(folder, 'no-handler.db');
    const outcome = await terminateUnderLoad(file, 'no-handler');
    expect(outcome.stderr).toBe('');
    expect({ code: outcome.code, signal: outcome.signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expectEveryAnsweredStoredOnce(outcome.answered, await storedCounts(file));
  });

  it("with the app's own handler: that handler runs, the process ends as the app decides, every answered request stored", async () => {
    const file = join(folder, 'own-handler.db');
    const outcome = await terminateUnderLoad(file, 'own-handler');
    expect(outcome.stdout).toContain('app handler ran');
    expect(outcome.stderr).toBe('');
    expect({ code: outcome.code, signal: outcome.signal }).toEqual({ code: 0, signal: null });
    expectEveryAnsweredStoredOnce(outcome.answered, await storedCounts(file));
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
