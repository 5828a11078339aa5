#!/usr/bin/env node
import { runCli } from './program.js';
import { processStreams } from './kit/output.js';

// A reader that stops early (`| head`) is not an error: the command stops writing and exits with its own status
// (verify's 1 for a tampered trail too).
const code = await runCli(process.argv, processStreams());
process.exitCode = code;
// Everything is closed by now; a driver's idle timer must not keep the command alive.
setTimeout(() => process.exit(code), 2000).unref();
