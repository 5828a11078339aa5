import type { Command, OptionValues } from 'commander';
import type { CliCommand } from '../kit/command.js';
import { EXIT } from '../kit/exit-codes.js';
import { startProgress } from '../kit/progress.js';
import { addRemovalOptions, checkRecorded, estimateRemoval, formatCounts, removalLoggerOptions, removalOptions } from '../kit/removal.js';

/** `actionlog purge`: deletes expired entries, and older ones with `--before`, a batch at a time. */
export const purgeCommand: CliCommand = {
  name: 'purge',
  summary: 'delete expired entries, and with --before every older one',
  examples: [
    'actionlog purge --sqlite app.db --before 2025-01-01',
    'actionlog purge --sqlite app.db --before 2025-01-01 --signing-key audit-private.pem --anchor-to anchored.jsonl',
    'actionlog purge --mongodb mongodb://localhost/app --json',
  ],
  configure(command: Command) {
    addRemovalOptions(command);
  },
  loggerOptions: removalLoggerOptions,
  async run(options: OptionValues, connection, streams) {
    const { logger } = connection;
    const removal = removalOptions(options);
    await checkRecorded(options, connection);
    const progress = startProgress('purge', await estimateRemoval(logger, removal.before), streams.stderr);
    try {
      const counts = await logger.purge({
        ...removal,
        onBatch: (kind, n) => {
          progress.add(n, kind);
        },
      });
      progress.stop();
      streams.stdout.write(formatCounts(counts, options.json === true));
    } finally {
      progress.stop();
    }
    return EXIT.ok;
  },
};
