/**
 * The server process of the shutdown and crash tests (`shutdown-server.ts`, run with tsx), a load of keep-alive
 * clients against it, and what its SQLite file holds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { expect } from 'vitest';
import { SqlStore } from 'actionlog';
import { storedCounts } from './stores.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const serverScript = fileURLToPath(new URL('./shutdown-server.ts', import.meta.url));

export interface ServerProcess {
  base: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: { stdout: string; stderr: string };
}

/** Starts the server on a SQLite file (`mode`: see shutdown-server.ts; `spoolDir`: with a spool there) once it listens. */
export async function startServer(file: string, mode: 'own-handler' | 'no-handler', spoolDir?: string): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', serverScript, file, mode, ...(spoolDir ? [spoolDir] : [])], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
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
      reject(new Error(`the server exited before listening: ${output.stderr}`));
    });
  });
  return { base, child, exited, output };
}

/** POSTs once; the request id of a 201, or undefined when the server did not answer. */
function post(base: string, agent: Agent, id: string): Promise<string | undefined> {
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

/**
 * Sends POSTs from `clients` keep-alive clients until `stop()` says so or the server stops answering; every request
 * id the server answered is pushed to `answered` as it comes.
 */
export async function load(base: string, clients: number, stop: () => boolean, answered: string[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let next = 0;
  const worker = async () => {
    for (let failures = 0; !stop() && failures < 3;) {
      const id = await post(base, agent, String(next++));
      if (id) answered.push(id);
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  agent.destroy();
}

/** Waits until `answered` holds `count` ids (at most 20 s). */
export async function answeredAtLeast(answered: string[], count: number): Promise<void> {
  for (const started = Date.now(); answered.length < count && Date.now() - started < 20_000;) await sleep(10);
  expect(answered.length).toBeGreaterThanOrEqual(count);
}

/** How many times each request id is stored in the SQLite file. */
export async function storedCountsIn(file: string): Promise<Map<string, number>> {
  const dataSource = new DataSource({ type: 'better-sqlite3', database: file });
  await dataSource.initialize();
  try {
    return await storedCounts(new SqlStore({ dataSource }));
  } finally {
    await dataSource.destroy();
  }
}

export function expectEveryAnsweredStoredOnce(answered: string[], counts: Map<string, number>): void {
  const missing = answered.filter((id) => !counts.has(id));
  const twice = answered.filter((id) => (counts.get(id) ?? 0) > 1);
  expect({ answered: answered.length, missing, twice }).toEqual({ answered: answered.length, missing: [], twice: [] });
}
