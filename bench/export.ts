/**
 * Memory of `logger.export()`: model changes stored in a SQLite file (SqlStore), exported as JSON lines and as
 * CSV by a process of its own that reads the whole trail; its peak RSS, at 20 000 and at 200 000 entries, must
 * be flat (the export reads a page at a time and waits for its reader).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { createActionLogger, SqlStore } from 'actionlog';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:export');

const SIZES = (process.env.EXPORT_BENCH_SIZES ?? '20000,200000').split(',').map(Number);
const FORMATS = ['jsonl', 'csv'] as const;
// Flags for the exporting process, e.g. `--max-old-space-size=64` to show that nothing accumulates.
const EXPORT_NODE_ARGS = (process.env.EXPORT_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

async function open(file: string) {
  const dataSource = new DataSource({ type: 'better-sqlite3', database: file });
  await dataSource.initialize();
  const logger = createActionLogger({ store: new SqlStore({ dataSource }), flushIntervalMs: 0 });
  await logger.ready();
  const close = async () => {
    await logger.close();
    await dataSource.destroy();
  };
  return { logger, close };
}

/** `count` model changes of orders, one request each, ten users, a few changed fields each. */
async function seed(file: string, count: number): Promise<void> {
  const { logger, close } = await open(file);
  for (let i = 0; i < count; i++) {
    const old_object = { id: i, status: 'new', total: i % 97, lines: [{ sku: `s-${i % 13}`, qty: 1 }], note: 'first order of the day' };
    const user = { id: i % 10, name: `user ${i % 10}` };
    void logger.run({ user }, () => {
      logger.recordModelChange({
        action: 'Updated',
        model: 'orders',
        model_class_name: 'Order',
        model_namespace: 'main.orders',
        model_id: String(i),
        old_object,
        new_object: { ...old_object, status: 'paid', total: old_object.total + 1 },
      });
    });
    if (i % 1000 === 999) await logger.flush();
  }
  await close();
}

/** In a process of its own: exports everything, returns rows, bytes and the peak RSS before and after. */
async function exportOnce(file: string, format: (typeof FORMATS)[number]) {
  const { logger, close } = await open(file);
  await logger.query({ kind: 'changes' }, { limit: 10 });
  const before = process.resourceUsage().maxRSS;
  let bytes = 0;
  let lines = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 10) lines++;
      // A slow reader: the export must wait for it rather than buffer ahead.
      setImmediate(done);
    },
  });
  const started = performance.now();
  await pipeline(logger.export({ kind: 'changes' }, { format }), sink);
  const seconds = (performance.now() - started) / 1000;
  await close();
  return { lines, bytes, seconds, rssBeforeKiB: before, rssPeakKiB: process.resourceUsage().maxRSS };
}

if (process.argv[2] === '--export') {
  const result = await exportOnce(process.argv[3]!, process.argv[4] as (typeof FORMATS)[number]);
  console.log(JSON.stringify(result));
} else {
  console.log(`export memory, Node ${process.version}`);
  const dir = mkdtempSync(join(tmpdir(), 'actionlog-export-bench-'));
  const self = fileURLToPath(import.meta.url);
  const rows: Array<{ size: number; format: string; peakMiB: number; growthMiB: number; mbPerSec: number }> = [];
  try {
    for (const size of SIZES) {
      const file = join(dir, `trail-${size}.sqlite`);
      await seed(file, size);
      for (const format of FORMATS) {
        const out = execFileSync(process.execPath, [...EXPORT_NODE_ARGS, '--import', 'tsx', self, '--export', file, format], {
          encoding: 'utf8',
        });
        const r = JSON.parse(out.trim().split('\n').pop()!) as Awaited<ReturnType<typeof exportOnce>>;
        const expected = format === 'csv' ? size + 1 : size;
        if (r.lines !== expected) throw new Error(`${format} export of ${size}: ${r.lines} lines, expected ${expected}`);
        rows.push({
          size,
          format,
          peakMiB: r.rssPeakKiB / 1024,
          growthMiB: (r.rssPeakKiB - r.rssBeforeKiB) / 1024,
          mbPerSec: r.bytes / 1e6 / r.seconds,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('| entries | format | peak RSS MiB | RSS growth during export MiB | MB/s |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.size} | ${r.format} | ${r.peakMiB.toFixed(1)} | ${r.growthMiB.toFixed(1)} | ${r.mbPerSec.toFixed(1)} |`);
  }
  for (const format of FORMATS) {
    const [small, large] = [SIZES[0], SIZES[SIZES.length - 1]].map((s) => rows.find((r) => r.size === s && r.format === format)!);
    console.log(`${format}: peak RSS at ${large!.size} / at ${small!.size} = ${(large!.peakMiB / small!.peakMiB).toFixed(3)}`);
  }
}
