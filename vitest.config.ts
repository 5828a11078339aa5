import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests import the package by its public names, resolved to the sources.
const resolve = {
  alias: [
    { find: /^actionlog$/, replacement: here('./src/index.ts') },
    { find: /^actionlog\/adapter-kit$/, replacement: here('./src/adapter-kit/index.ts') },
    { find: /^actionlog\/(express|koa|fastify|mongoose|typeorm|nestjs)$/, replacement: here('./adapters/$1/index.ts') },
  ],
};
const timeouts = { testTimeout: 60_000, hookTimeout: 180_000 };

// Files that measure time or put the machine under load, and the tail of two writer processes on PostgreSQL (a tail
// from now starts below the oldest transaction still running on the server, any database's: another file's would
// show it entries from before it started): they run last, one at a time.
const alone = [
  'test/read/tail-processes.test.ts',
  'test/write/poison-under-load.test.ts',
  'test/hostile-input.test.ts',
  'test/adapters/typeorm/koa-concurrency.test.ts',
  'test/adapters/mongoose/express-concurrency.test.ts',
  'test/write/spool-crash.test.ts',
  'test/write/outage.test.ts',
];

export default defineConfig({
  resolve,
  test: {
    // The root's alone (one MongoDB, one PostgreSQL, the build); the projects see what it provides. They do not
    // extend the root config, which would run it once per project.
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    projects: [
      // Most of a file's time is spent waiting on databases, child processes and timers: two files at a time
      // keep both cores busy (vitest's default is one worker on a machine of two). Without isolation, each worker
      // imports the ORMs and the frameworks once rather than once per file (a sixth of the suite's CPU), and each
      // file gets its own copy of the sources in a process where earlier files' copies patched TypeORM first: the
      // case of an application that loads actionlog both as ESM and as CommonJS, which the suite then covers.
      {
        resolve,
        test: {
          ...timeouts,
          name: 'suite',
          pool: 'forks',
          include: ['test/**/*.test.ts', ...alone.map((file) => `!${file}`)],
          maxWorkers: 2,
          isolate: false,
        },
      },
      { resolve, test: { ...timeouts, name: 'alone', pool: 'forks', include: [...alone], fileParallelism: false } },
    ],
  },
});
