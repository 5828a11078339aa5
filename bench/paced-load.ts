/**
 * Load at a steady rate, for latency: request i is due at start + i / rate whether or not the ones before it were
 * answered, over `connections` keep-alive connections. autocannon's `overallRate` is not that: each connection
 * sends its second's share at once when the second starts and then waits, so it measures a burst a second.
 * Each latency runs from when the request was due to the end of its response, in microseconds: a request held
 * back by a busy server counts the time it waited to be sent (no coordinated omission).
 */
import { Agent, request } from 'node:http';
import { createHistogram, performance } from 'node:perf_hooks';

export interface PacedLoad {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
}

export async function pacedLoad(
  url: string,
  options: { rate: number; durationSec: number; connections: number; body: unknown },
): Promise<PacedLoad> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const payload = JSON.stringify(options.body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  const latencies = createHistogram();
  const total = Math.max(1, Math.round(options.rate * options.durationSec));
  let sent = 0;
  let settled = 0;
  let errors = 0;
  const start = performance.now();
  const dueAt = (i: number) => start + (i * 1000) / options.rate;
  await new Promise<void>((allSettled) => {
    const settle = () => {
      if (++settled === total) allSettled();
    };
    const send = () => {
      const due = dueAt(sent++);
      // Once per request: a connection reset mid-body errors both the request and its response.
      let counted = false;
      const failed = () => {
        if (counted) return;
        counted = true;
        errors++;
        settle();
      };
      const req = request(url, { method: 'POST', agent, headers }, (res) => {
        res.resume();
        // A response cut off in its body ends with an error, not 'end'.
        res.on('error', failed);
        res.on('end', () => {
          if (res.statusCode !== 200) {
            failed();
            return;
          }
          if (counted) return;
          counted = true;
          latencies.record(Math.max(1, Math.round((performance.now() - due) * 1000)));
          settle();
        });
      });
      req.on('error', failed);
      req.end(payload);
    };
    // Checked on every turn of the loop (setImmediate, not a timer's ~1 ms steps): a request is sent within
    // microseconds of when it is due. This process spends its core on it, the server has the other.
    const pace = () => {
      const now = performance.now();
      while (sent < total && dueAt(sent) <= now) send();
      if (sent < total) setImmediate(pace);
    };
    pace();
  });
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  const ms = (us: number) => us / 1000;
  return {
    requestsPerSec: (total - errors) / seconds,
    p50Ms: ms(latencies.percentile(50)),
    p99Ms: ms(latencies.percentile(99)),
    maxMs: ms(latencies.max),
    errors,
  };
}
