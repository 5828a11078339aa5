import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, type ExportStream, MemoryStore } from 'actionlog';

const ENTRIES = 3000;

/** The lines of an export, read by `for await`. */
async function linesOf(stream: ExportStream): Promise<string[]> {
  const lines: string[] = [];
  for await (const chunk of stream) lines.push(String(chunk));
  return lines;
}

/** The number of cursors the stream holds for lines not yet delivered: bounded by its buffer, not the export. */
function heldCursors(stream: ExportStream): number {
  return (stream as unknown as { pending: unknown[] }).pending.length;
}

describe('export stream', () => {
  let logger: ActionLogger;

  beforeEach(async () => {
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0 });
    for (let i = 0; i < ENTRIES; i++) logger.record({ action: 'view', details: { i } });
    await logger.flush();
  });
  afterEach(() => logger.close());

  // A cursor tracked through read() alone stayed null in flowing mode, and the cursors of delivered lines piled up.
  const consumers: Record<string, (stream: ExportStream) => Promise<number>> = {
    pipeline: async (stream) => {
      let lines = 0;
      const sink = new Writable({
        objectMode: true,
        write(_chunk, _encoding, done) {
          lines++;
          done();
        },
      });
      await pipeline(stream, sink);
      return lines;
    },
    "on('data')": (stream) =>
      new Promise((resolve, reject) => {
        let lines = 0;
        stream.on('data', () => {
          lines++;
        });
        stream.on('end', () => {
          resolve(lines);
        });
        stream.on('error', reject);
      }),
    'for await': async (stream) => (await linesOf(stream)).length,
  };

  it.each(Object.keys(consumers))('moves its cursor and holds a bounded memory when read by %s', async (mode) => {
    const stream = logger.export({ kind: 'actions' }, { pageSize: 100 });
    expect(await consumers[mode]!(stream)).toBe(ENTRIES);
    expect(stream.cursor).not.toBeNull();
    expect(heldCursors(stream)).toBe(0);
    // Resumed from its cursor after the last line: nothing is sent again.
    expect(await linesOf(logger.export({ kind: 'actions' }, { pageSize: 100, cursor: stream.cursor }))).toEqual([]);
  });
});
