import type { Command, OptionValues } from 'commander';
import type { Connection, LoggerOverrides } from './connection.js';
import type { CliStreams } from './output.js';

/**
 * One command of the CLI, in a file of its own under `commands/`, listed in `commands/index.ts`. The program adds
 * the database options, opens the connection before `run` and closes it after, and turns errors into exit codes.
 */
export interface CliCommand {
  name: string;
  /** One line, for `actionlog --help`. */
  summary: string;
  /** Examples shown at the end of the command's `--help`. */
  examples?: string[];
  /** Declares the command's own options. */
  configure(command: Command): void;
  /** What the command's options set on the logger (a signing key), before the connection opens. */
  loggerOptions?(options: OptionValues): LoggerOverrides;
  /** Runs with the parsed options, writing to `streams`; resolves to the exit status (see `EXIT`). */
  run(options: OptionValues, connection: Connection, streams: CliStreams): Promise<number>;
}
