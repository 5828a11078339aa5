import { defineConfig } from 'tsup';

// Adapters import the core as 'actionlog' (kept external), so every entry shares one copy of it.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    express: 'adapters/express/index.ts',
    koa: 'adapters/koa/index.ts',
    fastify: 'adapters/fastify/index.ts',
    typeorm: 'adapters/typeorm/index.ts',
    mongoose: 'adapters/mongoose/index.ts',
  },
  format: ['esm', 'cjs'],
  target: 'node20',
  platform: 'node',
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  splitting: false,
  treeshake: true,
  external: ['actionlog', /^typeorm(\/.*)?$/, 'express', 'koa', 'fastify', 'mongoose', 'mongodb'],
});
