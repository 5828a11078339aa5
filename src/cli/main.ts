#!/usr/bin/env node
import { runCli } from './program.js';
import { watchStdoutReader } from './kit/output.js';

// A reader that stops early (`| head`) is not an error: the command stops writing and exits with its own status
// (verify's 1 for a tampered trail too).
watchStdoutReader();

const code = await runCli(process.argv);
process.exitCode = code;
// Everything is closed by now; a driver's idle timer must not keep the command alive.
setTimeout(() => process.exit(code), 2000).unref();
