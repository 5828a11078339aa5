import { constants } from 'node:os';
import { z } from 'zod';
import { ActionLogError } from './shared/errors.js';
import { finishesWithin } from './shared/deadline.js';
import { parseOptions } from './shared/parse-options.js';

/** An HTTP server as the shutdown handlers stop it (`node:http`, `node:https`, or anything built on them). */
export interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeAllConnections?(): void;
}

/** Options of `logger.installShutdownHandlers()`. */
export interface ShutdownOptions {
  /** Longest wait in ms, from the signal, for the servers' requests to finish and the queue to be stored. Default 10 000. */
  timeout?: number;
  /** Signals handled. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Servers to stop taking requests before the drain, when the application has no handler of its own: requests
   * they were serving finish (and are stored); at the deadline, their connections are cut.
   */
  servers?: readonly ClosableServer[];
}

/** What the handlers need of the logger. */
export interface Drainable {
  flush(): Promise<void>;
  close(options: { timeout?: number }): Promise<{ left: number }>;
  report(error: unknown): void;
}

const signalNames = new Set(Object.keys(constants.signals));
const optionsSchema = z.strictObject({
  timeout: z.number({ error: 'must be a number of ms' }).int('must be an integer').min(0, 'must be at least 0').default(10_000),
  signals: z
    .array(
      z.string().refine((s) => signalNames.has(s), 'is not a signal name (SIGTERM, SIGINT...)'),
      { error: 'must be a list of signal names' },
    )
    .min(1, 'must name at least one signal')
    .default(['SIGTERM', 'SIGINT']),
  servers: z
    .array(
      z.custom<ClosableServer>((v) => typeof (v as { close?: unknown } | null)?.close === 'function', {
        error: 'must be a server (with close())',
      }),
      { error: 'must be a list of servers' },
    )
    .default([]),
});

/** Listeners installed by this function, by any logger and any copy of the package: none of them is the app's. */
const OURS = Symbol.for('actionlog.shutdown-listeners');
const ours: WeakSet<object> = ((globalThis as { [OURS]?: WeakSet<object> })[OURS] ??= new WeakSet());

/**
 * On each signal: when the application listens to it too, its handlers decide when the process ends, and the
 * logger is closed (everything queued stored) once the event loop empties; otherwise the servers stop, what is
 * queued is stored within the deadline, and the signal is raised again, for the exit the process would have had.
 */
export function installShutdownHandlers(logger: Drainable, options: ShutdownOptions = {}): () => void {
  const o = parseOptions(optionsSchema, options, 'installShutdownHandlers options');
  const listeners = new Map<NodeJS.Signals, () => void>();
  let closing: Promise<unknown> | undefined;
  const closeOnce = (timeout?: number) =>
    (closing ??= logger.close({ timeout }).then(reportLeft, (error: unknown) => {
      logger.report(error);
    }));
  const reportLeft = ({ left }: { left: number }) => {
    if (left > 0) logger.report(new ActionLogError(`shutdown: ${left} documents were not stored within ${o.timeout} ms`));
  };
  const onBeforeExit = () => {
    void closeOnce();
  };
  const uninstall = () => {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener);
    listeners.clear();
    process.removeListener('beforeExit', onBeforeExit);
  };

  let shuttingDown = false;
  for (const signal of new Set(o.signals as NodeJS.Signals[])) {
    const listener = () => {
      // Another logger's handlers are not the app's: with them alone, the signal must still end the process.
      const appListens = process.listeners(signal).some((l) => l !== listener && !ours.has(l));
      if (appListens) {
        if (shuttingDown) return;
        shuttingDown = true;
        void logger.flush();
        process.once('beforeExit', onBeforeExit);
        // Unref'd: only the logger's own retries can keep the process alive that long, and they end here.
        setTimeout(() => void closeOnce(0), o.timeout).unref();
        return;
      }
      if (shuttingDown) {
        // A second signal while draining: the process ends now, as it would have without us.
        uninstall();
        process.kill(process.pid, signal);
        return;
      }
      shuttingDown = true;
      const deadline = Date.now() + o.timeout;
      const left = () => Math.max(0, deadline - Date.now());
      void stopServers(o.servers, o.timeout)
        // Stored while the logger still takes documents, so that a response that ends meanwhile is stored too.
        .then(() => finishesWithin(logger.flush(), left()))
        .then(() => closeOnce(left()))
        .finally(() => {
          uninstall();
          // Another logger still draining raises the signal once it is done (the last one does).
          if (process.listeners(signal).some((l) => ours.has(l))) return;
          process.kill(process.pid, signal);
        });
    };
    ours.add(listener);
    listeners.set(signal, listener);
    process.on(signal, listener);
  }
  return uninstall;
}

/** Closes the servers and waits until their requests ended, cutting their connections at the deadline. */
function stopServers(servers: readonly ClosableServer[], timeout: number): Promise<void> {
  if (servers.length === 0) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const closed = Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          // Rejects only when it was not listening: nothing to wait for then.
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      for (const server of servers) server.closeAllConnections?.();
      resolve();
    }, timeout);
  });
  return Promise.race([closed.then(() => undefined), late]).finally(() => {
    clearTimeout(timer);
  });
}
