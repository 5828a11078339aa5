import { ActionLogConfigError, ActionLogError, ActionLogger } from 'actionlog';

/** Calls held before the logger exists: more are dropped, counted and reported once it does. */
const MAX_HELD = 1000;

/** Calls kept for the logger: a model change, or an error to report. */
const HELD = new Set(['recordModelChange', 'report', 'reportError']);

type Method = (...args: unknown[]) => unknown;

/**
 * The logger of one application as ORM hooks installed before Nest has built it see it: Mongoose models compile
 * as soon as their connection is open, while the logger may still wait for the same connection (its store). Calls
 * go to the logger once it exists; before, there is no current scope, and model changes and errors are held for it.
 */
export class PendingLogger {
  private target: ActionLogger | undefined;
  private held: Array<[string, unknown[]]> = [];
  private dropped = 0;

  /** The logger, once Nest has built it. */
  get logger(): ActionLogger | undefined {
    return this.target;
  }

  /** Hands over what was held; returns the logger. */
  resolve(logger: ActionLogger): ActionLogger {
    this.target = logger;
    const held = this.held;
    this.held = [];
    for (const [name, args] of held) this.forward(logger, name, args);
    if (this.dropped > 0) {
      logger.report(new ActionLogError(`${this.dropped} model changes or errors came before the logger was built and were dropped`));
    }
    return logger;
  }

  /** Calls `name` on the logger, or does what stands for it until the logger exists. */
  invoke(name: string, args: unknown[]): unknown {
    if (this.target) return (this.target[name as keyof ActionLogger] as Method).apply(this.target, args);
    if (name === 'current') return undefined;
    if (HELD.has(name)) {
      if (this.held.length < MAX_HELD) this.held.push([name, args]);
      else this.dropped++;
      return undefined;
    }
    throw new ActionLogConfigError(
      [{ path: 'logger', message: `${name}() was called before ActionLogModule built its logger (in a provider's factory?)` }],
      'ActionLogModule',
    );
  }

  private forward(logger: ActionLogger, name: string, args: unknown[]): void {
    try {
      (logger[name as keyof ActionLogger] as Method).apply(logger, args);
    } catch (error) {
      logger.report(error);
    }
  }
}

/** The names of the logger's methods, for objects that stand for it. */
export const LOGGER_METHODS: readonly string[] = Object.getOwnPropertyNames(ActionLogger.prototype).filter(
  (name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(ActionLogger.prototype, name)?.value === 'function',
);

/** An object with the logger's methods that calls them on whatever logger `current()` gives at the time of the call. */
export function loggerFacade(current: () => PendingLogger | undefined, whenNone: (name: string, args: unknown[]) => unknown): ActionLogger {
  const facade: Record<string, Method> = {};
  for (const name of LOGGER_METHODS) {
    facade[name] = (...args: unknown[]) => {
      const pending = current();
      return pending ? pending.invoke(name, args) : whenNone(name, args);
    };
  }
  return facade as unknown as ActionLogger;
}
