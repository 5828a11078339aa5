import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/**
 * Builds the package unless `dist/` is newer than every source. Once per run, before the suites (CI builds first):
 * suites that each rebuilt it could empty `dist/` under one another.
 */
export function ensureBuilt(): void {
  let built = 0;
  try {
    const dist = join(root, 'dist');
    built = Math.min(...readdirSync(dist).map((name) => statSync(join(dist, name)).mtimeMs));
  } catch {
    // Not built yet.
  }
  const sources = Math.max(newest(join(root, 'src')), newest(join(root, 'adapters')), statSync(join(root, 'package.json')).mtimeMs);
  if (built > sources) return;
  console.log('[actionlog tests] building the package (dist/ is older than the sources)');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore', timeout: 900_000 });
}
