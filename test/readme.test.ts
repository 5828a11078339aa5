/**
 * A README snippet is a promise. Every TypeScript block of the README is a complete file: each is compiled against
 * the built package, strictly, with TypeScript 5 and TypeScript 7, and the blocks marked `ts run` are run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongoUri } from './support/mongo-db.js';
import { createPostgresDatabase } from './support/sql.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

export interface Snippet {
  /** Line of the README where its code starts (1-based). */
  line: number;
  code: string;
  runnable: boolean;
  /** The file name other blocks import it by (`file=adapter.ts`), if any. */
  file: string | undefined;
}

/** The README's TypeScript blocks: ```ts (compiled), ```ts run (compiled and run), either with `file=<name>.ts`. */
export function readmeSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```ts( run)?(?: file=([\w.-]+\.ts))?\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1] !== '```') i++;
    snippets.push({ line: start + 1, code: lines.slice(start, i + 1).join('\n'), runnable: open[1] !== undefined, file: open[2] });
    i++;
  }
  return snippets;
}

/** Newest modification time under `dir` (files only). */
const snippets = readmeSnippets(readFileSync(join(root, 'README.md'), 'utf8'));
let project = '';
const databases: Array<{ drop: () => Promise<void> }> = [];

/** `README.md:<line>` of a compiler message about snippet file `snippet-<i>.ts`, line `n`. */
function readmeLocation(message: string): string {
  return message.replace(/snippets\/([\w.-]+\.ts)\((\d+),(\d+)\)/g, (found, file: string, n: string, col: string) => {
    const snippet = snippets.find((s, i) => (s.file ?? `snippet-${i}.ts`) === file);
    return snippet ? `README.md:${snippet.line + Number(n) - 1}:${col}` : found;
  });
}

async function compile(tsc: string): Promise<string> {
  try {
    await run(process.execPath, [join(root, 'node_modules', tsc, 'bin', 'tsc'), '-p', project], { cwd: project, timeout: 240_000 });
    return '';
  } catch (error) {
    return readmeLocation((error as { stdout?: string }).stdout ?? String(error));
  }
}

beforeAll(async () => {
  // A project of its own, as an app would be: the package installed by name, its peers beside it.
  project = mkdtempSync(join(tmpdir(), 'actionlog-readme-'));
  const modules = join(project, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === 'actionlog' || entry.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
  }
  symlinkSync(root, join(modules, 'actionlog'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'readme-snippets', private: true, type: 'module' }));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        types: ['node'],
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        noEmit: true,
        // Third-party declarations are theirs to check; ours are checked through every use the snippets make.
        skipLibCheck: true,
      },
      include: ['snippets/*.ts'],
    }),
  );
  mkdirSync(join(project, 'snippets'));
  snippets.forEach((snippet, i) => {
    writeFileSync(join(project, 'snippets', snippet.file ?? `snippet-${i}.ts`), snippet.code);
  });
}, 600_000);

afterAll(async () => {
  if (project) rmSync(project, { recursive: true, force: true });
  for (const database of databases) await database.drop();
});

describe('the README', () => {
  it('has TypeScript snippets, some of them runnable', () => {
    expect(snippets.length).toBeGreaterThan(10);
    expect(snippets.filter((s) => s.runnable).length).toBeGreaterThan(3);
  });

  it('compiles every snippet with TypeScript 5, strict, against the built package', async () => {
    expect(await compile('typescript')).toBe('');
  });

  it('compiles every snippet with TypeScript 7, strict, against the built package', async () => {
    expect(await compile('typescript7')).toBe('');
  });

  it.each(snippets.map((snippet, i) => [snippet.line, i] as const).filter(([, i]) => snippets[i]!.runnable))(
    'runs the snippet at README.md:%i as written',
    async (_line, i) => {
      const database = await createPostgresDatabase();
      databases.push(database);
      const { stderr } = await run(join(root, 'node_modules', '.bin', 'tsx'), [join('snippets', snippets[i]!.file ?? `snippet-${i}.ts`)], {
        cwd: project,
        timeout: 60_000,
        env: { ...process.env, MONGODB_URI: mongoUri(), DATABASE_URL: database.url },
      });
      // A snippet that runs but makes actionlog warn (a misconfiguration) is not working as written.
      expect(stderr).not.toContain('[actionlog]');
    },
  );
});
