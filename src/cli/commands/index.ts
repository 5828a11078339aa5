import type { CliCommand } from '../kit/command.js';
import { archiveCommand } from './archive.js';
import { exportCommand } from './export.js';
import { purgeCommand } from './purge.js';
import { statsCommand } from './stats.js';
import { tailCommand } from './tail.js';
import { verifyCommand } from './verify.js';

/** Every command of `actionlog`, in the order `--help` lists them: a new command is a file here and a line below. */
export const COMMANDS: readonly CliCommand[] = [verifyCommand, exportCommand, tailCommand, statsCommand, purgeCommand, archiveCommand];
