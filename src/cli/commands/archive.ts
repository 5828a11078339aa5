import type { Command, OptionValues } from 'commander';
import type { CliCommand } from '../kit/command.js';
import { EXIT, usageError } from '../kit/exit-codes.js';
import { openOutput } from '../kit/output.js';
import { startProgress } from '../kit/progress.js';
import { addRemovalOptions, checkRecorded, estimateRemoval, formatCounts, removalLoggerOptions, removalOptions } from '../kit/removal.js';

/**
 * `actionlog archive`: moves expired entries, and older ones with `--before`, to a file of JSON lines
 * (`{ kind, _id, entry }`): each batch written, flushed, then deleted. The file is appended to, so a run killed
 * midway and run again loses nothing (a batch may appear twice, with the same `kind` and `_id`).
 */
export const archiveCommand: CliCommand = {
  name: 'archive',
  summary: 'move expired entries, and with --before every older one, to a JSON lines file',
  examples: [
    'actionlog archive --sqlite app.db --before 2025-01-01 --to archive-2024.jsonl',
    'actionlog archive --sqlite app.db --before 2025-01-01 --to archive-2024.jsonl --signing-key audit-private.pem',
  ],
  configure(command: Command) {
    command.requiredOption('--to <file>', 'JSON lines file to append to ({ kind, _id, entry } per line)');
    addRemovalOptions(command);
  },
  loggerOptions: removalLoggerOptions,
  async run(options: OptionValues, connection, streams) {
    const { logger } = connection;
    if (options.to === '-') throw usageError('--to', 'must be a file: what is archived is deleted once written');
    const removal = removalOptions(options);
    await checkRecorded(options, connection);
    const total = await estimateRemoval(logger, removal.before);
    const out = await openOutput(options.to as string, 'append', streams);
    const progress = startProgress('archive', total, streams.stderr);
    try {
      const counts = await logger.archive({
        ...removal,
        to: out.stream,
        onBatch: (kind, n) => {
          progress.add(n, kind);
        },
      });
      progress.stop();
      streams.stdout.write(formatCounts(counts, options.json === true));
    } finally {
      progress.stop();
      await out.close();
    }
    return EXIT.ok;
  },
};
