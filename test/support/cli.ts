import { type ChildProcess, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli as runProgram } from '../../src/cli/program.js';

/** The built CLI (the test run's global setup builds the package first). */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

// What a developer's shell may set for the CLI would point the runs in this process elsewhere (spawned ones drop it).
delete process.env.ACTIONLOG_MONGODB;
delete process.env.ACTIONLOG_POSTGRES;
delete process.env.ACTIONLOG_DEBUG;

/**
 * Runs the CLI's program in this process, its output collected: what `actionlog ...args` does, without the start of a
 * process for each case. The environment is this process's; `spawnCli` runs the built command itself.
 */
export async function runCli(args: string[]): Promise<CliRun> {
  const out = { stdout: '', stderr: '' };
  const collect = (name: keyof typeof out) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out[name] += chunk.toString();
        done();
      },
    });
  const code = await runProgram([process.execPath, CLI, ...args], {
    stdout: collect('stdout'),
    stderr: collect('stderr'),
    stdoutGone: new AbortController().signal,
  });
  return { code, ...out };
}

/** Runs `node dist/cli.js ...args` to its end, as a user would from the package's folder. */
export function spawnCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return finished(startCli(args, options));
}

/** Starts the CLI without waiting (a `tail`); `finished` waits for its end. */
export function startCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): ChildProcess & { out: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? root,
    env: { ...process.env, ACTIONLOG_MONGODB: undefined, ACTIONLOG_POSTGRES: undefined, ACTIONLOG_DEBUG: undefined, ...options.env },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  return Object.assign(child, { out });
}

export function finished(child: ReturnType<typeof startCli>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, ...child.out });
    });
  });
}

/** Resolves once `check` holds, polling; fails after `ms`. */
export async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A stack trace's frame line: a user error never shows one. */
export const STACK_FRAME = /^\s+at .+\(?.+:\d+:\d+\)?$/m;
