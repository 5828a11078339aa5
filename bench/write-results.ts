/**
 * Writes bench/RESULTS.md from the tables the benchmarks recorded (see results.ts), with the machine, the versions
 * measured, when the run was made and with which BENCH_* settings. `--start` (the first step of `npm run bench`)
 * forgets what earlier runs recorded, so that the file holds one run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { type BenchRecord, benchSettings, formatTable, projectRoot, resultsDir } from './results.js';

/** The order of `npm run bench`; other recorded benchmarks follow, by name. */
const ORDER = [
  'bench:core',
  'bench:writer-turns',
  'bench:http',
  'bench:slow-store',
  'bench:mongo',
  'bench:typeorm',
  'bench:mongoose',
  'bench:soak',
];
const startFile = join(resultsDir, 'run.json');
/** What `--start` records of the `npm run bench` it starts: when, and with which BENCH_* variables. */
interface Run {
  startedAt: string;
  settings: Record<string, string>;
}
const output = join(projectRoot, 'bench', 'RESULTS.md');

if (process.argv.includes('--start')) {
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(startFile, `${JSON.stringify({ startedAt: new Date().toISOString(), settings: benchSettings(false) } satisfies Run)}\n`);
  process.exit(0);
}

if (!existsSync(resultsDir)) throw new Error(`no benchmark recorded its results in ${resultsDir}: run the benchmarks first`);
const records = readdirSync(resultsDir, { withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.json') && e.name !== 'run.json')
  .map((e) => JSON.parse(readFileSync(join(resultsDir, e.name), 'utf8')) as BenchRecord)
  .sort((a, b) => rank(a.script) - rank(b.script) || a.script.localeCompare(b.script) || a.node.localeCompare(b.node));
if (records.length === 0) throw new Error(`no benchmark recorded its results in ${resultsDir}: run the benchmarks first`);
// Benchmarks that did not run with their defaults (a short or partial run).
const changed = records.filter((r) => Object.keys(r.settings).length > 0);
const start = existsSync(startFile) ? (JSON.parse(readFileSync(startFile, 'utf8')) as Run) : undefined;

const lines = [
  '# Benchmark results',
  '',
  `Written by bench/write-results.ts on ${when(new Date().toISOString())}, from the tables recorded${start ? ` since \`${command(start.settings, 'npm run bench')}\` started ${when(start.startedAt)}` : ''}.`,
  'Every ratio is against a baseline measured in the same run; bench/README.md describes each benchmark and keeps',
  'the history of earlier runs.',
  '',
  ...settingsNote(),
  '',
  '## Machine',
  '',
  ...keyValueTable(machine()),
  '',
  '## Versions',
  '',
  ...keyValueTable(versions(records)),
];
for (const record of records) {
  lines.push('', `## \`${record.script}\` on Node ${record.node}`, '');
  lines.push(`Reproduce: \`${record.command}\` (finished ${when(record.finishedAt)}).`);
  for (const table of record.tables) lines.push('', formatTable(table, '### '));
}
writeFileSync(output, `${lines.join('\n')}\n`);
console.log(`wrote bench/RESULTS.md: ${records.map((r) => `${r.script} (Node ${r.node})`).join(', ')}`);
if (changed.length > 0) console.log(`not a default run: ${changed.map((r) => r.command).join('; ')}`);

function rank(script: string): number {
  const i = ORDER.indexOf(script);
  return i === -1 ? ORDER.length : i;
}

function command(settings: Record<string, string>, script: string): string {
  return [...Object.entries(settings).map(([k, v]) => `${k}=${v}`), script].join(' ');
}

function when(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/** Says loudly when any benchmark ran with other settings than its defaults (a short run is not a full one). */
function settingsNote(): string[] {
  if (changed.length === 0) return ['**Settings:** every benchmark ran with its defaults (no `BENCH_*` variable set).'];
  return [
    '**Not a default run:** these benchmarks ran with `BENCH_*` settings of their own (fewer or shorter rounds, a subset),',
    'so their figures are not comparable with a full run:',
    '',
    ...changed.map(
      (r) =>
        `- \`${r.script}\`: ${Object.entries(r.settings)
          .map(([k, v]) => `\`${k}=${v}\``)
          .join(' ')}`,
    ),
  ];
}

function machine(): Array<[string, string]> {
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  return [
    ['CPU', cpus()[0]?.model.trim() ?? 'unknown'],
    ['cores', `${cpus().length} (${availableParallelism()} available to Node)`],
    ['memory', gib(totalmem())],
    ['OS', `${osName()} (${type()} ${release()}, ${process.arch})`],
    [
      'load average when written (1, 5, 15 min)',
      loadavg()
        .map((l) => l.toFixed(2))
        .join(', '),
    ],
  ];
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? type();
  } catch {
    return type();
  }
}

/** Node, actionlog (with its commit), then what the benchmarks measured; one value per name, or each with its benchmark. */
function versions(all: BenchRecord[]): Array<[string, string]> {
  const own = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const actionlog = `${own.version}${commit()}`;
  const byName = new Map<string, Set<string>>();
  for (const record of all) {
    for (const [name, version] of Object.entries(record.versions)) byName.set(name, (byName.get(name) ?? new Set()).add(version));
  }
  const rows: Array<[string, string]> = [['actionlog', actionlog]];
  for (const [name, values] of byName) rows.push([name, [...values].join(', ')]);
  return rows;
}

function commit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no', '--', ':!bench/RESULTS.md') !== '';
    return ` (commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ', with uncommitted changes' : ''})`;
  } catch {
    return '';
  }
}

function keyValueTable(rows: Array<[string, string]>): string[] {
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replaceAll('|', '\\|')} |`)];
}
