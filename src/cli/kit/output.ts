import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Where a run of the CLI writes: the process's stdout and stderr, or streams of the caller's (a test's). Help wraps
 * to the process's terminal either way.
 */
export interface CliStreams {
  /** The command's data. */
  stdout: Writable & { isTTY?: boolean };
  /** Messages, warnings and progress (a bar when a terminal). */
  stderr: Writable & { isTTY?: boolean };
  /** Aborted when the reader of stdout goes away (`| head`): a command stops writing there, and keeps its exit status. */
  stdoutGone: AbortSignal;
}

let processOwn: CliStreams | undefined;

/** The process's stdout and stderr, a closed pipe on stdout taken as the reader being done, not as an error. */
export function processStreams(): CliStreams {
  if (processOwn) return processOwn;
  const readerGone = new AbortController();
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    readerGone.abort();
    // Whoever waits for room on stdout would wait for ever.
    process.stdout.emit('drain');
  });
  return (processOwn = { stdout: process.stdout, stderr: process.stderr, stdoutGone: readerGone.signal });
}

/** Where a command writes its data: a file (created, or appended to) or stdout. */
export interface Output {
  stream: Writable;
  /** Writes one chunk, waiting when the destination is behind. */
  write(text: string): Promise<void>;
  /** Ends a file and waits until it is on disk; stdout stays open. */
  close(): Promise<void>;
}

export async function openOutput(file: string | undefined, mode: 'create' | 'append', streams: CliStreams): Promise<Output> {
  const toStdout = file === undefined || file === '-';
  const stream: Writable = toStdout ? streams.stdout : createWriteStream(file, { flags: mode === 'append' ? 'a' : 'w' });
  if (!toStdout) await Promise.race([once(stream, 'open'), once(stream, 'error').then(([error]) => Promise.reject(error as Error))]);
  return {
    stream,
    async write(text) {
      if (toStdout && streams.stdoutGone.aborted) return;
      if (!stream.write(text)) await once(stream, 'drain');
    },
    async close() {
      if (toStdout) return;
      stream.end();
      await once(stream, 'close');
    },
  };
}
