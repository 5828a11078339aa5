import { type Command, Option, type OptionValues } from 'commander';
import { checkColumns, csvLine, DEFAULT_COLUMNS, jsonLine, valueAt } from '../../read/export.js';
import type { CliCommand } from '../kit/command.js';
import { EXIT } from '../kit/exit-codes.js';
import { addFilterOptions, filterOf } from '../kit/filter-flags.js';

/** `actionlog tail`: follows the entries that match as they are stored, until interrupted (Ctrl-C). */
export const tailCommand: CliCommand = {
  name: 'tail',
  summary: 'follow the entries that match as they are stored, until Ctrl-C',
  examples: ['actionlog tail --postgres "$DATABASE_URL" --kind actions --action-type delete'],
  configure(command: Command) {
    command
      .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
      .option('--columns <paths>', 'CSV columns, comma-separated dotted paths (default: per kind)')
      .option('--after <cursor>', 'resume after this cursor (printed with --cursors) instead of starting from now')
      .option('--cursors', "print each entry's cursor on stderr, to resume with --after")
      .option('--poll-ms <ms>', 'how often to ask the database when nothing wakes the tail sooner', '1000');
    addFilterOptions(command);
  },
  async run(options: OptionValues, { logger }, { stdout, stderr, stdoutGone }) {
    const filter = filterOf(options);
    const csv = options.format === 'csv';
    const columns =
      typeof options.columns === 'string' ? options.columns.split(',').map((c) => c.trim()) : [...DEFAULT_COLUMNS[filter.kind]];
    // Checked before waiting: a bad filter or column is said at once, not at the first entry.
    await logger.count(filter);
    if (csv) checkColumns(filter.kind, columns);
    const stop = new AbortController();
    const onSignal = () => {
      stop.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const poll = options.pollMs as string;
    try {
      // Its options are checked here: nothing is written before a bad --after or --poll-ms is said.
      const items = logger.tail(filter, {
        // A reader gone (`| head`) ends the tail at once, not at the next entry.
        signal: AbortSignal.any([stop.signal, stdoutGone]),
        pollMs: (/^\d+$/.test(poll) ? Number(poll) : poll) as number,
        ...(options.after !== undefined ? { after: options.after as string } : {}),
      });
      // On stderr: stdout holds only entries.
      stderr.write(`following ${filter.kind} (Ctrl-C to stop)\n`);
      if (csv) stdout.write(csvLine(columns));
      for await (const { entry, cursor } of items) {
        if (stdoutGone.aborted) break;
        const line = csv ? csvLine(columns.map((column) => valueAt(filter.kind, entry, column))) : jsonLine(entry);
        if (!stdout.write(line)) await new Promise((resolve) => stdout.once('drain', resolve));
        if (options.cursors === true) stderr.write(`${cursor}\n`);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return EXIT.ok;
  },
};
