import { z } from 'zod';
import { finishesWithin } from './shared/deadline.js';
import { errorSummary } from './shared/errors.js';
import { parseOptions } from './shared/parse-options.js';

/** Options of `logger.health()`. */
export interface HealthOptions {
  /** Longest wait for the store's ping, in ms. Default 1000. */
  timeout?: number;
}

/** What `logger.health()` says, for a readiness probe. */
export interface HealthReport {
  /** Ready: not closed, and the store answered (or cannot be asked: it has no `ping`). */
  ok: boolean;
  /** `close()` was called: nothing more is recorded. */
  closed: boolean;
  store: {
    /** Whether the store answered its ping within the timeout; null when it has no ping (or the logger is closed). */
    reachable: boolean | null;
    /** How long the ping took, when it answered. */
    latencyMs: number | null;
    /** Why it did not answer. */
    error: string | null;
  };
  /** Documents waiting or being written, and the most the queue holds (`maxQueueSize`). */
  queue: { depth: number; max: number };
  /** Documents in the durable spool not stored yet, its bytes on disk and the age of its oldest; undefined without one. */
  spool: { depth: number; bytes: number; oldestAgeMs: number | null } | undefined;
  /** The last store error (failed write, retry, drop, quarantine, setup) and when; null when there was none. */
  lastError: { name: string; message: string; at: Date } | null;
}

/** What the monitor asks of the logger at each check. */
export interface HealthInputs {
  closed: boolean;
  ping: (() => Promise<void>) | undefined;
  queueDepth: number;
  maxQueueSize: number;
  spool?: HealthReport['spool'];
}

const optionsSchema = z.strictObject({
  timeout: z.number({ error: 'must be a number of ms' }).int('must be an integer').min(1, 'must be at least 1').default(1000),
});

/** Keeps the last store error, and answers `health()`. */
export class HealthMonitor {
  private last: HealthReport['lastError'] = null;

  noteError(error: Error): void {
    this.last = { name: error.name, message: error.message, at: new Date() };
  }

  async check(options: HealthOptions | undefined, inputs: HealthInputs): Promise<HealthReport> {
    const { timeout } = parseOptions(optionsSchema, options ?? {}, 'health() options');
    const store =
      inputs.closed || !inputs.ping ? { reachable: null, latencyMs: null, error: null } : await pingWithin(inputs.ping, timeout);
    return {
      ok: !inputs.closed && store.reachable !== false,
      closed: inputs.closed,
      store,
      queue: { depth: inputs.queueDepth, max: inputs.maxQueueSize },
      spool: inputs.spool,
      lastError: this.last && { ...this.last },
    };
  }
}

async function pingWithin(ping: () => Promise<void>, timeout: number): Promise<HealthReport['store']> {
  const started = performance.now();
  try {
    if (!(await finishesWithin(Promise.resolve().then(ping), timeout)))
      return { reachable: false, latencyMs: null, error: `no answer within ${timeout} ms` };
    return { reachable: true, latencyMs: Math.round((performance.now() - started) * 1000) / 1000, error: null };
  } catch (error) {
    return { reachable: false, latencyMs: null, error: errorSummary(error).message };
  }
}
