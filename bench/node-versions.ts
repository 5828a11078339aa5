import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resultsDir } from './results.js';

const script = fileURLToPath(new URL('../scripts/node-version.mjs', import.meta.url));

/**
 * With BENCH_NODE=22,24,26, runs the npm script `benchScript` once under each of those Node majors (through
 * scripts/node-version.mjs, the package built first in each one's copy of the project) and exits with the first
 * failure's code, or 0; without it, returns and the benchmark runs here. Each run records its tables here, for
 * bench/RESULTS.md, not in that copy.
 */
export function runUnderBenchNode(benchScript: string): void {
  const majors = process.env.BENCH_NODE?.split(',')
    .map((major) => major.trim())
    .filter((major) => major !== '');
  if (!majors?.length) return;
  const env = { ...process.env };
  delete env.BENCH_NODE;
  let failed = 0;
  for (const major of majors) {
    const runEnv = { ...env, BENCH_RESULTS_DIR: resultsDir, BENCH_NODE_MAJOR: major };
    console.log(`\n=== ${benchScript} on Node ${major} ===`);
    for (const command of [
      ['run', 'build', '--silent'],
      ['run', benchScript],
    ]) {
      const { status } = spawnSync(process.execPath, [script, major, 'npm', ...command], { env: runEnv, stdio: 'inherit' });
      if (status !== 0) {
        console.error(`${benchScript} on Node ${major}: npm ${command.join(' ')} exited with ${status}`);
        failed ||= status ?? 1;
        break;
      }
    }
  }
  process.exit(failed);
}
