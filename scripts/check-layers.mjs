// Checks that data flows one way through src/ (see ARCHITECTURE.md) and that adapters stay outside it:
//   - a file in src/ imports only from its own stage or an earlier one;
//   - no two folders import each other, directly or around a longer loop;
//   - adapters import the core by its public names only, and src/ never imports them; an adapter imports another
//     adapter only when it composes it (COMPOSES below), by its public name, never the other way round.
// Prints each violation with the import that breaks the rule; exits 1 if there is any.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The pipeline, in order, then its consumers inside src/ (the CLI); the folder of a file is its first segment under src/. */
const STAGES = ['shared', 'capture', 'build', 'write', 'stores', 'read', '(root)', 'adapter-kit', 'cli'];
/** What the public names resolve to, for the rank of an import of them. */
const PUBLIC = { actionlog: '(root)', 'actionlog/adapter-kit': 'adapter-kit' };
/** Framework integrations built on other adapters (the NestJS module mounts the HTTP capture and the ORM adapters). */
const COMPOSES = { nestjs: ['express', 'fastify', 'mongoose', 'typeorm'] };

function files(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return files(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file) {
  const text = readFileSync(join(root, file), 'utf8');
  const found = [];
  const patterns = [
    /(?:^|\n)\s*(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
    /import\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The stage of a path under src/ (a file directly in src/ is the root: the logger and the public entry). */
function stageOf(path) {
  const parts = relative('src', path).split('/');
  return parts.length === 1 ? '(root)' : parts[0];
}

/** The folder a file sits in, for the cycle check (src/stores/sql, adapters/typeorm...). */
const folderOf = (path) => dirname(path);

const problems = [];
const edges = new Map();
const addEdge = (from, to) => {
  if (from === to) return;
  if (!edges.has(from)) edges.set(from, new Set());
  edges.get(from).add(to);
};

for (const file of files('src')) {
  const stage = stageOf(file);
  for (const spec of importsOf(file)) {
    let target;
    if (spec.startsWith('.')) target = join(dirname(file), spec).replace(/\.js$/, '.ts');
    else if (spec in PUBLIC) target = undefined;
    else if (spec.startsWith('actionlog/')) {
      problems.push(`${file}: imports the adapter ${spec} (src/ never depends on adapters)`);
      continue;
    } else continue;
    if (target?.startsWith('adapters/')) {
      problems.push(`${file}: imports ${spec} (src/ never depends on adapters)`);
      continue;
    }
    const targetStage = target ? stageOf(target) : PUBLIC[spec];
    if (STAGES.indexOf(targetStage) > STAGES.indexOf(stage)) {
      problems.push(`${file}: imports ${spec}, from the later stage "${targetStage}" into "${stage}"`);
    }
    if (target) addEdge(folderOf(file), folderOf(target));
  }
}

for (const file of files('adapters')) {
  const adapter = relative('adapters', file).split('/')[0];
  for (const spec of importsOf(file)) {
    if (spec.startsWith('.')) {
      const target = join(dirname(file), spec);
      if (!target.startsWith(join('adapters', adapter)))
        problems.push(`${file}: imports ${spec} (outside its own adapter; use the public names)`);
      else addEdge(folderOf(file), folderOf(target));
    } else if (spec.startsWith('actionlog/') && !(spec in PUBLIC)) {
      const other = spec.slice('actionlog/'.length);
      if (COMPOSES[adapter]?.includes(other)) addEdge(join('adapters', adapter), join('adapters', other));
      else problems.push(`${file}: imports the adapter ${spec} (adapters do not depend on each other)`);
    }
  }
}

// Folders that import each other, directly or in a loop.
const visiting = new Set();
const done = new Set();
function visit(folder, path) {
  if (done.has(folder)) return;
  if (visiting.has(folder)) {
    problems.push(`folders import each other in a loop: ${[...path.slice(path.indexOf(folder)), folder].join(' → ')}`);
    return;
  }
  visiting.add(folder);
  for (const next of edges.get(folder) ?? []) visit(next, [...path, folder]);
  visiting.delete(folder);
  done.add(folder);
}
for (const folder of edges.keys()) visit(folder, []);

if (problems.length > 0) {
  console.error(`Layering: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(
  `Layering: ${files('src').length + files('adapters').length} files, data flows one way (${STAGES.join(' → ')}); no folder cycles.`,
);
