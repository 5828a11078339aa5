import { type Command, Option, type OptionValues } from 'commander';
import type { CliCommand } from '../kit/command.js';
import { EXIT } from '../kit/exit-codes.js';
import { addFilterOptions, filterOf } from '../kit/filter-flags.js';
import { openOutput } from '../kit/output.js';
import { startProgress } from '../kit/progress.js';

/** `actionlog export`: the entries that match, as JSON lines or CSV, to a file or stdout. */
export const exportCommand: CliCommand = {
  name: 'export',
  summary: 'write the entries that match as JSON lines or CSV',
  examples: [
    'actionlog export --sqlite app.db --kind actions --format csv --from 2026-01-01 --out actions.csv',
    'actionlog export --postgres "$DATABASE_URL" --kind changes --model invoices --model-id 42',
  ],
  configure(command: Command) {
    command
      .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
      .option('--columns <paths>', 'CSV columns, comma-separated dotted paths (default: per kind)')
      .addOption(new Option('--order <order>', 'oldest or newest first').choices(['asc', 'desc']).default('asc'))
      .option('--out <file>', 'write to this file (default: stdout)');
    addFilterOptions(command);
  },
  async run(options: OptionValues, { logger }, streams) {
    const filter = filterOf(options);
    const format = options.format as 'jsonl' | 'csv';
    const columns = typeof options.columns === 'string' ? options.columns.split(',').map((c) => c.trim()) : undefined;
    // Counted first: it checks the filter before a file is made, and sizes the bar.
    const total = await logger.count(filter);
    const stream = logger.export(filter, { format, order: options.order as 'asc' | 'desc', ...(columns ? { columns } : {}) });
    const out = await openOutput(options.out as string | undefined, 'create', streams);
    const progress = startProgress('export', total, streams.stderr);
    // The CSV header is a line, not an entry.
    let header = format === 'csv';
    let entries = 0;
    try {
      for await (const line of stream as AsyncIterable<string>) {
        if (out.stream === streams.stdout && streams.stdoutGone.aborted) break;
        await out.write(line);
        if (header) header = false;
        else {
          entries++;
          progress.add(1, filter.kind);
        }
      }
    } finally {
      progress.stop();
      await out.close();
    }
    streams.stderr.write(`exported ${entries} ${filter.kind}${options.out ? ` to ${String(options.out)}` : ''}\n`);
    return EXIT.ok;
  },
};
