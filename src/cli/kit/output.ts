import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

const readerGone = new AbortController();

/** Aborted when the reader of stdout goes away (`| head`): a command stops writing there, and keeps its exit status. */
export const stdoutReaderGone: AbortSignal = readerGone.signal;

/** Takes a closed pipe on stdout as the reader being done, not as an error of the command. */
export function watchStdoutReader(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    readerGone.abort();
    // Whoever waits for room on stdout would wait for ever.
    process.stdout.emit('drain');
  });
}

/** Where a run of the CLI writes: the process's stdout and stderr, or streams of the caller's (a test's). */
export interface CliStreams {
  /** The command's data. */
  stdout: Writable & { isTTY?: boolean; columns?: number };
  /** Messages, warnings and progress. */
  stderr: Writable & { isTTY?: boolean; columns?: number };
  /** Aborted when the reader of stdout goes away: the command stops writing there. */
  stdoutGone: AbortSignal;
}

/** The process's own streams, stdout watched by `watchStdoutReader`. */
export const processStreams = (): CliStreams => ({ stdout: process.stdout, stderr: process.stderr, stdoutGone: stdoutReaderGone });

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
