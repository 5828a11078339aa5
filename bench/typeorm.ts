/**
 * A Koa + TypeORM endpoint doing a save() and a repository.update() per request, on SQLite and PostgreSQL:
 * actionlog (writing to its SqlStore in the same database) against no audit on TypeORM 1.x, and
 * typeorm-auditing against no audit on TypeORM 0.3 (the version it supports). Each pair runs side by side on
 * one core (see support.ts); figures are throughput ratios to the baseline of the same TypeORM version.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres } from '../examples/shared/databases/postgres.js';
import { benchEnv, packageVersion, reportResults, type ResultTable } from './results.js';
import { median, pairedRun } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:typeorm');

const ROUNDS = Number(benchEnv('BENCH_ROUNDS') ?? 3);
const SECONDS = Number(benchEnv('BENCH_SECONDS') ?? 6);
const DATABASES = (benchEnv('BENCH_DBS') ?? 'sqlite,postgres').split(',');

const ONLY = benchEnv('BENCH_PAIRS')?.split(',');
const OPT_IN = ['actionlog-memory', 'actionlog-read-before'];
const selected = (audit: string) => (ONLY ? ONLY.includes(audit) : !OPT_IN.includes(audit));

const peerDir = fileURLToPath(new URL('./peers/typeorm-auditing/', import.meta.url));
const withPeer = selected('typeorm-auditing');
if (withPeer && !existsSync(`${peerDir}node_modules/typeorm-auditing`)) {
  console.log('installing typeorm-auditing and TypeORM 0.3 for the comparison...');
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: peerDir, stdio: 'inherit' });
}
const peerTypeorm = withPeer ? packageVersion('typeorm', peerDir) : '0.3';
const ourTypeorm = packageVersion('typeorm');

const postgres = DATABASES.includes('postgres') ? await startPostgres() : undefined;
let databases = 0;
async function freshDatabase(): Promise<string> {
  const name = `actionlog_bench_${process.pid}_${databases++}`;
  const admin = new pg.Client({ connectionString: postgres!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgres!.url);
  url.pathname = `/${name}`;
  return url.toString();
}

const allPairs = [
  { label: `actionlog / no audit (TypeORM ${ourTypeorm})`, script: './servers/koa-typeorm.ts', modes: ['baseline', 'actionlog'] },
  {
    label: `typeorm-auditing / no audit (TypeORM ${peerTypeorm})`,
    script: './peers/typeorm-auditing/server.ts',
    modes: ['baseline-0.3', 'typeorm-auditing'],
    // Its history table pairs an AUTOINCREMENT _seq with the copied key, which SQLite refuses to create.
    skip: { sqlite: 'cannot create its history table on SQLite (AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY)' } as Record<
      string,
      string
    >,
  },
  {
    label: `actionlog on MemoryStore / no audit (TypeORM ${ourTypeorm})`,
    script: './servers/koa-typeorm.ts',
    modes: ['baseline', 'actionlog-memory'],
  },
  // The path PostgreSQL before 18 takes: the rows a query-level write changes are read before it.
  {
    label: `actionlog, queryWrites 'readBefore' / no audit (TypeORM ${ourTypeorm})`,
    script: './servers/koa-typeorm.ts',
    modes: ['baseline', 'actionlog-read-before'],
  },
];
const pairs = allPairs.filter((p) => selected(p.modes[1]!));

const tables: ResultTable[] = [];
for (const db of DATABASES) {
  const rows: string[][] = [];
  for (const pair of pairs) {
    const skip = 'skip' in pair ? pair.skip?.[db] : undefined;
    if (skip) {
      rows.push([pair.label, '', '', `not measured: ${skip}`, '', '']);
      continue;
    }
    const ratios: number[] = [];
    const cpu: number[] = [];
    const rates: Array<[number, number]> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const servers = [];
      for (const mode of pair.modes) {
        const env: Record<string, string> = { BENCH_MODE: mode, BENCH_DB: db };
        if (db === 'postgres') env.PG_URL = await freshDatabase();
        servers.push({ name: mode, script: pair.script, env, path: '/orders' });
      }
      const [base, audited] = await pairedRun(servers, { seconds: SECONDS, body: {} });
      ratios.push(audited!.requestsPerSec / base!.requestsPerSec);
      // The kernel shares the core between threads, not processes: CPU per request is the steadier measure.
      cpu.push(audited!.cpuPerRequest / base!.cpuPerRequest);
      rates.push([base!.requestsPerSec, audited!.requestsPerSec]);
      console.log(
        `${db} ${pair.modes[1]} round ${round + 1}: ${base!.requestsPerSec.toFixed(0)} vs ${audited!.requestsPerSec.toFixed(0)} req/s, ratio ${ratios.at(-1)!.toFixed(3)}, CPU per request ×${cpu.at(-1)!.toFixed(2)}`,
      );
    }
    rows.push([
      pair.label,
      median(rates.map(([b]) => b)).toFixed(0),
      median(rates.map(([, a]) => a)).toFixed(0),
      ratios.map((r) => r.toFixed(3)).join(', '),
      `**${median(ratios).toFixed(3)}**`,
      `×${median(cpu).toFixed(2)}`,
    ]);
  }
  tables.push({
    title: `Koa + TypeORM on ${db === 'sqlite' ? 'SQLite (in memory)' : 'PostgreSQL'}, save() + repository.update() per request, side by side on one core (median of ${ROUNDS} rounds of ${SECONDS} s)`,
    columns: ['audit / no audit', 'no audit req/s', 'audited req/s', 'throughput ratio, rounds', 'median', 'CPU per request'],
    rows,
  });
}
const postgresVersion = postgres ? await serverVersion(postgres.url) : undefined;
reportResults('bench:typeorm', tables, {
  typeorm: ourTypeorm,
  ...(withPeer ? { 'typeorm (typeorm-auditing)': peerTypeorm, 'typeorm-auditing': packageVersion('typeorm-auditing', peerDir) } : {}),
  koa: packageVersion('koa'),
  ...(DATABASES.includes('sqlite') ? { 'better-sqlite3': packageVersion('better-sqlite3') } : {}),
  ...(postgres ? { PostgreSQL: `${postgresVersion} (${postgres.description.replace(/ on port \d+/, '')})` } : {}),
});
await postgres?.stop();

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  return rows[0]!.server_version;
}
