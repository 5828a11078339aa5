/**
 * Where tamper evidence spends its CPU on the Express path: the Express JSON POST server of `bench:http` with
 * integrity off (`actionlog`) and on (`actionlog-integrity`), each loaded alone for PROFILE_SECONDS under
 * `node --cpu-prof`; then, per request, each profile's busy time, garbage collection, the writer's sealing
 * (`TrailSeal.seal`, inclusive) and checkpoints, and the functions sealing spends its own time in.
 * CPU-profile time is counted in samples, so it is steadier on a shared machine than throughput.
 */
import { type CpuProfile, type ProfileNode, profiledRun } from './support.js';
import { runUnderBenchNode } from './node-versions.js';

runUnderBenchNode('bench:profile-integrity');

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const MODES = (process.env.PROFILE_MODES ?? 'actionlog,actionlog-integrity').split(',');
const TOP = Number(process.env.PROFILE_TOP ?? 15);

/** Self and inclusive time (µs) of every node of a profile. */
function times(profile: CpuProfile) {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const inclusive = new Map<number, number>();
  const total = (id: number): number => {
    const known = inclusive.get(id);
    if (known !== undefined) return known;
    const sum = (self.get(id) ?? 0) + (byId.get(id)?.children ?? []).reduce((n, c) => n + total(c), 0);
    inclusive.set(id, sum);
    return sum;
  };
  for (const node of profile.nodes) total(node.id);
  return { self, inclusive, byId };
}

const label = (node: ProfileNode) => {
  const file = node.callFrame.url.split('/').pop() ?? '';
  return `${node.callFrame.functionName || '(anonymous)'}${file ? ` ${file}:${node.callFrame.lineNumber + 1}` : ''}`;
};
const ofActionlog = (node: ProfileNode) => /\/dist\//.test(node.callFrame.url);

/** Per request (µs): busy time, GC, sealing, checkpoints, and the self time of what sealing calls, by function. */
function summarise(profile: CpuProfile, requests: number) {
  const { self, inclusive, byId } = times(profile);
  const perRequest = (us: number) => us / requests;
  let busy = 0;
  let gc = 0;
  for (const node of profile.nodes) {
    const name = node.callFrame.functionName;
    if (name === '(idle)') continue;
    busy += self.get(node.id) ?? 0;
    if (name === '(garbage collector)') gc += self.get(node.id) ?? 0;
  }
  // Roots of a subtree: a named function of the built package, counted once even where it recurses.
  const rootsOf = (names: string[]) => {
    const roots: number[] = [];
    const walk = (id: number, inside: boolean) => {
      const node = byId.get(id)!;
      const hit = !inside && ofActionlog(node) && names.includes(node.callFrame.functionName);
      if (hit) roots.push(id);
      for (const child of node.children ?? []) walk(child, inside || hit);
    };
    walk(profile.nodes[0]!.id, false);
    return roots;
  };
  const sealRoots = rootsOf(['seal']);
  const sealed = sealRoots.reduce((n, id) => n + (inclusive.get(id) ?? 0), 0);
  const checkpoints = rootsOf(['signCheckpoint', 'merkleRoot']).reduce((n, id) => n + (inclusive.get(id) ?? 0), 0);
  const inSeal = new Map<string, number>();
  const collect = (id: number) => {
    const node = byId.get(id)!;
    inSeal.set(label(node), (inSeal.get(label(node)) ?? 0) + (self.get(id) ?? 0));
    for (const child of node.children ?? []) collect(child);
  };
  sealRoots.forEach(collect);
  const top = [...inSeal].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  return {
    busy: perRequest(busy),
    gc: perRequest(gc),
    seal: perRequest(sealed),
    checkpoints: perRequest(checkpoints),
    top: top.map(([name, us]) => ({ name, us: perRequest(us), share: sealed > 0 ? us / sealed : 0 })),
  };
}

async function profileOf(mode: string) {
  const { requests, profile } = await profiledRun(mode, SECONDS);
  return { requests, ...summarise(profile, requests) };
}

console.log(`CPU profile of the Express JSON POST server, ${SECONDS}s of load per mode (Node ${process.version}); µs per request:`);
for (const mode of MODES) {
  const p = await profileOf(mode);
  console.log(
    `\n${mode}: ${p.requests} requests; busy ${p.busy.toFixed(1)}, GC ${p.gc.toFixed(1)}, sealing ${p.seal.toFixed(2)}, checkpoints ${p.checkpoints.toFixed(2)}`,
  );
  if (p.top.length > 0) {
    console.log('  self time inside sealing:');
    for (const t of p.top) console.log(`    ${t.us.toFixed(2).padStart(6)}  ${(t.share * 100).toFixed(1).padStart(5)}%  ${t.name}`);
  }
}
