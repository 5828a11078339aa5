/**
 * A benchmark's result tables: printed as Markdown, and recorded (one JSON file per npm script and Node major under
 * .cache/bench-results/) for bench/write-results.ts, which writes bench/RESULTS.md from them at the end of
 * `npm run bench`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../', import.meta.url));
/** Set by runUnderBenchNode, so that a benchmark run in another Node's copy of the project records here. */
export const resultsDir = process.env.BENCH_RESULTS_DIR ?? join(projectRoot, '.cache', 'bench-results');
/** Variables that say where and how a run records, not what it measures. */
const INTERNAL = ['BENCH_RESULTS_DIR', 'BENCH_NODE_MAJOR'];

export type Cell = string | number;

export interface ResultTable {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** Lines printed under the table: what the figures are and how to read them. */
  notes?: string[];
}

export interface BenchRecord {
  /** The npm script, `bench:http`. */
  script: string;
  /** The command that reproduces the tables: the script with the BENCH_* variables it ran with. */
  command: string;
  /** The BENCH_* variables of the benchmark set for the run; none means its defaults. */
  settings: Record<string, string>;
  node: string;
  finishedAt: string;
  /** What was measured, by name: packages, databases. */
  versions: Record<string, string>;
  tables: ResultTable[];
}

const read = new Set<string>();

/** A variable that changes what this benchmark measures; read through here, it is listed with the results when set. */
export function benchEnv(name: string): string | undefined {
  read.add(name);
  return process.env[name];
}

/** The BENCH_* variables set in this process: those the benchmark read (`onlyRead`), or all of them. */
export function benchSettings(onlyRead = true): Record<string, string> {
  const entries = Object.entries(process.env).filter(
    (e): e is [string, string] =>
      e[0].startsWith('BENCH_') && !INTERNAL.includes(e[0]) && e[1] !== undefined && (!onlyRead || read.has(e[0])),
  );
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/** The version of `name` installed in `dir`'s node_modules (the project's by default). */
export function packageVersion(name: string, dir: string = projectRoot): string {
  const file = join(dir, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

const cell = (value: Cell) => String(value).replaceAll('|', '\\|');

/** `table` as Markdown: its title (after `heading`), the table, then its notes. */
export function formatTable(table: ResultTable, heading = ''): string {
  const lines = [
    `${heading}${table.title}`,
    '',
    `| ${table.columns.map(cell).join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
  ];
  for (const row of table.rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  if (table.notes?.length) lines.push('', ...table.notes);
  return lines.join('\n');
}

/**
 * Prints the tables of the benchmark run as `script` and records them, with the versions it measured, for
 * bench/RESULTS.md.
 */
export function reportResults(script: string, tables: ResultTable[], versions: Record<string, string> = {}): void {
  for (const table of tables) console.log(`\n${formatTable(table)}`);
  const settings = benchSettings();
  const nodeMajor = process.env.BENCH_NODE_MAJOR;
  const prefix = [...(nodeMajor ? [`BENCH_NODE=${nodeMajor}`] : []), ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)];
  const record: BenchRecord = {
    script,
    command: [...prefix, 'npm run', script].join(' '),
    settings,
    node: process.version,
    finishedAt: new Date().toISOString(),
    versions: { Node: process.version, ...versions },
    tables,
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${script.replace(':', '-')}.node${process.versions.node.split('.')[0]}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\n(recorded in ${relative(process.cwd(), file)} for bench/RESULTS.md)`);
}
