import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import type { CliCommand } from './kit/command.js';
import { COMMANDS } from './commands/index.js';
import { addConnectionOptions, openConnection } from './kit/connection.js';
import { describeError, EXIT } from './kit/exit-codes.js';
import { flagOf } from './kit/filter-flags.js';
import type { CliStreams } from './kit/output.js';

const EXIT_CODES_HELP = `
Exit status: 0 done (verify: intact); 1 verify found tampering; 2 bad arguments, a database that cannot be reached
or read (the message says which), or a trail verify could not verify.
Connection strings may come from ACTIONLOG_MONGODB and ACTIONLOG_POSTGRES instead of the command line.`;

/** The version of the package this CLI was built from (dist/cli.js sits beside package.json's folder). */
function version(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Adds a command: its own options, the database options, its examples, and the connection around its run. */
function register(program: Command, spec: CliCommand, exit: { code: number }, streams: CliStreams): void {
  const command = program.command(spec.name).description(spec.summary);
  spec.configure(command);
  addConnectionOptions(command);
  if (spec.examples) command.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n${EXIT_CODES_HELP}`);
  command.action(async (options: Record<string, unknown>) => {
    const connection = await openConnection(options, spec.loggerOptions?.(options), (name) => command.getOptionValueSource(name));
    try {
      exit.code = await spec.run(options, connection, streams);
    } finally {
      await connection.close();
      for (const warning of connection.warnings) streams.stderr.write(`actionlog: warning: ${warning}\n`);
    }
  });
}

/**
 * Runs `actionlog` with these arguments (as `process.argv`), writing to `streams`, and resolves to its exit status.
 * Errors are said in one line on stderr, without a stack (`ACTIONLOG_DEBUG=1` shows it). The environment is the process's.
 */
export async function runCli(argv: string[], streams: CliStreams): Promise<number> {
  const program = new Command('actionlog')
    .description('Read and maintain an actionlog audit trail in MongoDB, PostgreSQL or SQLite.')
    .version(version())
    .exitOverride()
    // Commander's own errors (an unknown option, a missing value) in the same words as ours.
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
      outputError: (message, write) => {
        write(`actionlog: Invalid arguments: ${message.replace(/^error: /, '')}`);
      },
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);
  const exit = { code: EXIT.ok as number };
  for (const spec of COMMANDS) register(program, spec, exit, streams);
  try {
    await program.parseAsync(argv);
    return exit.code;
  } catch (error) {
    // Commander has printed its own message (an unknown option, a missing value) or the help asked for.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.failed;
    streams.stderr.write(`actionlog: ${describeError(error, flagOf)}\n`);
    if (process.env.ACTIONLOG_DEBUG === '1' && error instanceof Error && error.stack) streams.stderr.write(`${error.stack}\n`);
    return EXIT.failed;
  }
}
