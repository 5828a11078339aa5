import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

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
      if (!stream.write(text)) await once(stream, 'drain');
    },
    async close() {
      if (stream === process.stdout) return;
      stream.end();
      await once(stream, 'close');
    },
  };
}
