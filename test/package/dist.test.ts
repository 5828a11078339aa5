import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The package is built by the test run's global setup (test/support/built-package.ts).
const root = fileURLToPath(new URL('../..', import.meta.url));

function run(file: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, [join(root, 'test/fixtures', file)], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('the built package', () => {
  it('shares one context between its ESM and CJS copies, through the root and a subpath', () => {
    const seen = run('dist-consumer.mjs');
    expect(seen).toEqual({
      cjsSeesEsmScope: 'run-1',
      cjsSeesRequest: true,
      cjsKitSeesRequest: true,
      twoCopies: true,
      kitErrorIsConfigError: true,
      kitErrorIsNotValidationError: true,
      koaMiddlewareType: 'function',
      documents: [
        ['run-1', ['from-cjs']],
        ['req-42', ['42']],
      ],
    });
  });

  it('records nothing of a save that TypeORM rolls back, with the adapter loaded as ESM and as CommonJS', () => {
    expect(run('dist-typeorm-two-copies.mjs')).toEqual({
      failed: true,
      qty: 5,
      changes: [
        ['Created', null, 1],
        ['Updated', 1, 5],
      ],
    });
  });

  it('loads every entry point from CommonJS', () => {
    expect(run('dist-consumer.cjs')).toEqual({
      validation: true,
      plugin: 'function',
      middleware: 'function',
      mongoosePlugin: 'function',
      typeormSubscriber: 'function',
      kitCapture: 'function',
      nestModule: 'function',
    });
  });

  it('runs a CommonJS Nest application: the request scope, the TypeORM subscriber and @AuditAction', () => {
    expect(run('dist-nest.cjs')).toEqual({
      status: 201,
      route: '/notes',
      changes: [['Created', 'notes', '1']],
      actions: [['note', '1']],
    });
  });

  it('runs a Nest application without @nestjs/typeorm and @nestjs/mongoose installed', () => {
    expect(run('dist-nest-without-orms.mjs')).toEqual({
      missing: 'ERR_MODULE_NOT_FOUND',
      status: 201,
      route: '/ping',
      actions: ['ping'],
      // Asked for by name, a missing integration is an error.
      explicit: 'Invalid actionlog ActionLogModule options: typeorm: @nestjs/typeorm is not installed',
    });
  });
});
