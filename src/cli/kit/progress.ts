import cliProgress from 'cli-progress';
import type { CliStreams } from './output.js';

/** How far a long command is: a bar on a terminal, a plain count line every few seconds otherwise. */
export interface Progress {
  /** `n` more entries done; `label` says of what (a kind). */
  add(n: number, label?: string): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 2000;

/**
 * Progress on stderr, so stdout stays the command's data. `total` is an estimate where the store cannot count
 * exactly (what a purge deletes includes expired entries no read sees): the bar grows when passed.
 */
export function startProgress(what: string, total: number | undefined, stream: CliStreams['stderr']): Progress {
  if (stream.isTTY) return barProgress(what, total, stream);
  let done = 0;
  let shown = Date.now();
  return {
    add(n, label) {
      done += n;
      if (Date.now() - shown < PLAIN_EVERY_MS) return;
      shown = Date.now();
      stream.write(`${what}: ${done}${total === undefined ? '' : `/${total}`} entries${label ? ` (${label})` : ''}\n`);
    },
    stop() {},
  };
}

function barProgress(what: string, total: number | undefined, stream: NodeJS.WritableStream): Progress {
  const known = total !== undefined && total > 0;
  const format = known
    ? `${what} {bar} {percentage}% | {value}/{total} {label} | ETA {eta_formatted}`
    : `${what} {value} entries {label} | {duration_formatted}`;
  const bar = new cliProgress.SingleBar({ format, stream, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  let value = 0;
  let size = known ? total : 1;
  let stopped = false;
  bar.start(size, 0, { label: '' });
  return {
    add(n, label) {
      value += n;
      if (value > size) bar.setTotal((size = value));
      bar.update(value, { label: label ?? '' });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
