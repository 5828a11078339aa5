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

/** Where a command writes its data: a file (created, or appended to) or stdout. */
export interface Output {
  stream: Writable;
  /** Writes one chunk, waiting when the destination is behind. */
  write(text: string): Promise<void>;
  /** Ends a file and waits until it is on disk; stdout stays open. */
  close(): Promise<void>;
}

export async function openOutput(file: string | undefined, mode: 'create' | 'append' = 'create'): Promise<Output> {
  const stream: Writable =
    file === undefined || file === '-' ? process.stdout : createWriteStream(file, { flags: mode === 'append' ? 'a' : 'w' });
  if (stream !== process.stdout)
    await Promise.race([once(stream, 'open'), once(stream, 'error').then(([error]) => Promise.reject(error as Error))]);
  return {
    stream,
    async write(text) {
      if (stream === process.stdout && readerGone.signal.aborted) return;
      if (!stream.write(text)) await once(stream, 'drain');
    },
    async close() {
      if (stream === process.stdout) return;
      stream.end();
      await once(stream, 'close');
    },
  };
}
