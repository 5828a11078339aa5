import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests import the package by its public names, resolved to the sources.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^actionlog$/, replacement: here('./src/index.ts') },
      { find: /^actionlog\/adapter-kit$/, replacement: here('./src/adapter-kit/index.ts') },
      { find: /^actionlog\/(express|koa|fastify|mongoose|typeorm|nestjs)$/, replacement: here('./adapters/$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
