/**
 * Where a mode's extra CPU goes on the Express JSON POST path: the server of `bench:http` in each of PROFILE_MODES
 * (default `baseline,null-store`), each loaded alone for PROFILE_SECONDS under `node --cpu-prof`; then, per
 * request, the self time of every function in each mode, and the functions whose time grew most against the
 * first mode. Node's own functions count too: what actionlog makes Node do (a header, a listener) shows there.
 * CPU-profile time is counted in samples, so it is steadier on a shared machine than throughput. PROFILE_SERVER and
 * PROFILE_PATH profile another bench server (`./servers/koa-typeorm.ts`, `/orders`, with its BENCH_MODE values).
 */
import { type CpuProfile, EXPRESS_JSON, type ProfileNode, profiledRun } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:profile-http');

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);
const MODES = (process.env.PROFILE_MODES ?? 'baseline,null-store').split(',');
const TOP = Number(process.env.PROFILE_TOP ?? 30);
const SERVER = { script: process.env.PROFILE_SERVER ?? EXPRESS_JSON.script, path: process.env.PROFILE_PATH ?? EXPRESS_JSON.path };

const label = (node: ProfileNode) => {
  const url = node.callFrame.url;
  const file = url.startsWith('node:') ? url : url.split('/').slice(-2).join('/');
  return `${node.callFrame.functionName || '(anonymous)'}${file ? ` ${file}:${node.callFrame.lineNumber + 1}` : ''}`;
};

/** actionlog's built package, Node's own JavaScript, a package by name, or native code (GC, syscalls). */
const places = new Map<string, string>();
function placeOf(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (url.startsWith('node:')) return 'Node (JavaScript)';
  const pkg = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/dist/')) return 'actionlog';
  if (url) return 'the bench server';
  return node.callFrame.functionName.startsWith('(garbage') ? 'garbage collector' : `native: ${node.callFrame.functionName}`;
}

/** Self time per request (µs) by function, without idle time. */
function selfTimes(profile: CpuProfile, requests: number): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    const name = label(node);
    places.set(name, placeOf(node));
    out.set(name, (out.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / requests);
  });
  return out;
}

async function profileOf(mode: string) {
  const { requests, profile } = await profiledRun(mode, SECONDS, SERVER);
  return { requests, self: selfTimes(profile, requests) };
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
console.log(
  `CPU profile of ${SERVER.script} (POST ${SERVER.path}), ${SECONDS}s of load per mode (Node ${process.version}); µs per request:`,
);
const profiles = [];
for (const mode of MODES) {
  const p = await profileOf(mode);
  profiles.push(p);
  console.log(`${mode}: ${p.requests} requests, busy ${sum(p.self).toFixed(1)}, GC ${(p.self.get('(garbage collector)') ?? 0).toFixed(1)}`);
}
const [first, ...rest] = profiles;
for (const [i, p] of rest.entries()) {
  const names = new Set([...first!.self.keys(), ...p.self.keys()]);
  const growth = [...names].map((n) => [n, (p.self.get(n) ?? 0) - (first!.self.get(n) ?? 0)] as const);
  growth.sort((a, b) => b[1] - a[1]);
  console.log(`\n${MODES[i + 1]} against ${MODES[0]}: +${(sum(p.self) - sum(first!.self)).toFixed(1)} µs; by where the code is:`);
  const byPlace = new Map<string, number>();
  for (const [name, us] of growth) {
    const place = places.get(name) ?? '?';
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  }
  const shown = [...byPlace].filter(([, us]) => Math.abs(us) >= 0.05).sort((a, b) => b[1] - a[1]);
  for (const [place, us] of shown) console.log(`  ${us.toFixed(2).padStart(6)}  ${place}`);
  console.log(`the ${TOP} functions that grew most:`);
  for (const [name, us] of growth.slice(0, TOP)) {
    const was = `${(first!.self.get(name) ?? 0).toFixed(2)} → ${(p.self.get(name) ?? 0).toFixed(2)}`;
    console.log(`  ${us.toFixed(2).padStart(6)}  ${was.padEnd(14)}  ${name}`);
  }
}
