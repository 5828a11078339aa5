import { describe, expect, it } from 'vitest';
import { optionalImport } from '../../../adapters/nestjs/optional-import.js';

describe('optionalImport', () => {
  it('gives undefined for a package that is not installed, the module for one that is', async () => {
    const specifier = '@actionlog-test/not-installed';
    await expect(optionalImport(specifier, () => import(/* @vite-ignore */ specifier))).resolves.toBeUndefined();
    const zod = await optionalImport('zod', () => import('zod'));
    expect(typeof zod?.z.object).toBe('function');
  });

  it('throws any other failure, a missing dependency of the package included', async () => {
    const broken = Object.assign(new Error("Cannot find package 'bson' imported from /x/node_modules/mongodb/index.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(optionalImport('mongodb', () => Promise.reject(broken))).rejects.toBe(broken);
    await expect(optionalImport('zod', () => Promise.reject(new Error('syntax')))).rejects.toThrow('syntax');
  });
});
