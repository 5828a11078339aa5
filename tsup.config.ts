import { defineConfig } from 'tsup';

// Adapters import the core as 'actionlog' and 'actionlog/adapter-kit' (kept external), so every adapter shares one
// copy of them. The kit bundles the few core modules it needs; what must be one per process (the context storage,
// the request-scope map, statement caches) hangs on a global symbol, and errors answer `instanceof` across copies.
// The NestJS module loads the other adapters by their public names too, never bundling a copy of them.
const external = [
  /^actionlog(\/(adapter-kit|express|fastify|mongoose|typeorm))?$/,
  /^typeorm(\/.*)?$/,
  /^@nestjs\//,
  /^rxjs(\/.*)?$/,
  'express',
  'koa',
  'fastify',
  'mongoose',
  'mongodb',
];

// The CLI is one ESM file with its shebang (`bin` in package.json), the core bundled in: a command of its own, not
// a module to import. The library's build leaves it alone when it cleans dist/, as both builds run at once.
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      'adapter-kit': 'src/adapter-kit/index.ts',
      express: 'adapters/express/index.ts',
      koa: 'adapters/koa/index.ts',
      fastify: 'adapters/fastify/index.ts',
      typeorm: 'adapters/typeorm/index.ts',
      mongoose: 'adapters/mongoose/index.ts',
      nestjs: 'adapters/nestjs/index.ts',
    },
    format: ['esm', 'cjs'],
    target: 'node20',
    platform: 'node',
    dts: { compilerOptions: { stripInternal: true } },
    sourcemap: true,
    clean: ['!cli.js', '!cli.js.map'],
    splitting: false,
    treeshake: true,
    external,
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: false,
    sourcemap: true,
    clean: false,
    splitting: false,
    treeshake: true,
    external,
  },
]);
