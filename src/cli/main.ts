#!/usr/bin/env node
import { runCli } from './program.js';

// A reader that stops early (`| head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const code = await runCli(process.argv);
process.exitCode = code;
// Everything is closed by now; a driver's idle timer must not keep the command alive.
setTimeout(() => process.exit(code), 2000).unref();
