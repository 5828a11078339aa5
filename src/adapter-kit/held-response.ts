import type { ServerResponse } from 'node:http';
import { thrownText } from '../shared/errors.js';

/** What the response says when the request's document could not be stored under the failure policy `'throw'`. */
export const UNSTORED_STATUS = 500;
const UNSTORED_BODY = JSON.stringify({ error: 'ActionLogStoreError', message: 'The audit entry of this request could not be stored.' });

type Method = (...args: unknown[]) => unknown;

/**
 * What the application answered when it ended the response, kept while the end is held: a second answer in the
 * meantime (an error handler that sees `headersSent` still false, a framework that sends again) changes neither the
 * status, its reason phrase nor the headers, and its own head, writes and end go nowhere, as on a response sent.
 */
class FirstAnswer {
  private readonly status: number;
  private readonly statusMessage: string;
  private readonly headers: Record<string, unknown>;

  constructor(private readonly res: ServerResponse) {
    this.status = res.statusCode;
    this.statusMessage = res.statusMessage;
    this.headers = res.getHeaders();
  }

  /** Puts the status and headers back as they were when the application ended the response. */
  restore(): void {
    const { res } = this;
    if (res.headersSent) return;
    res.statusCode = this.status;
    res.statusMessage = this.statusMessage;
    // Most often nothing answered again: nothing to put back.
    const names = res.getHeaderNames();
    const same = names.length === Object.keys(this.headers).length && names.every((name) => res.getHeader(name) === this.headers[name]);
    if (same) return;
    for (const name of names) if (!Object.hasOwn(this.headers, name)) res.removeHeader(name);
    for (const [name, value] of Object.entries(this.headers)) if (value !== undefined) res.setHeader(name, value as string | string[]);
  }
}

/** A write of a second answer, while the first is held: refused as Node refuses a write after the end. */
function refusedWrite(args: unknown[]): boolean {
  const callback = args.findLast((arg) => typeof arg === 'function') as ((error: Error) => void) | undefined;
  if (callback) process.nextTick(callback, Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' }));
  return true;
}

/** An end of a second answer, while the first is held: its callback runs when the response is done, as Node runs it. */
function laterEnd(res: ServerResponse, args: unknown[]): ServerResponse {
  const callback = args.findLast((arg) => typeof arg === 'function') as (() => void) | undefined;
  if (callback) res.once('close', callback);
  return res;
}

/**
 * While `isHeld()`, a second answer's `writeHead`, `write` and `flushHeaders` go nowhere (its `end` is the caller's):
 * what the spool's hold adds to a response.
 */
function ignoreWhileHeld(res: ServerResponse, isHeld: () => boolean): void {
  const own = res as unknown as Record<'writeHead' | 'write' | 'flushHeaders', Method>;
  const { writeHead, write, flushHeaders } = own;
  own.writeHead = function writeHeadUnlessHeld(...args: unknown[]) {
    return isHeld() ? res : writeHead.apply(res, args);
  };
  own.write = function writeUnlessHeld(...args: unknown[]) {
    return isHeld() ? refusedWrite(args) : write.apply(res, args);
  };
  own.flushHeaders = function flushHeadersUnlessHeld(...args: unknown[]) {
    return isHeld() ? undefined : flushHeaders.apply(res, args);
  };
}

/**
 * Failure policy `'spool'`: runs `spool` with the status the application chose when the response ends, and holds
 * its last bytes until the promise `spool` returns resolves, so that a client never has a whole response whose
 * document is not in the spool. Set on this response object only; `spool` must not throw, its promise not reject.
 */
export function spoolBeforeEnd(res: ServerResponse, spool: (statusCode: number) => Promise<void> | undefined): void {
  let held: FirstAnswer | undefined;
  ignoreWhileHeld(res, () => held !== undefined);
  const own = res as unknown as Record<'end', Method>;
  const end = own.end;
  let ended = false;
  own.end = function spoolThenEnd(...args: unknown[]) {
    if (held) return laterEnd(res, args);
    if (ended) return end.apply(res, args);
    ended = true;
    const spooled = spool(res.statusCode);
    if (!spooled) return end.apply(res, args);
    const first = (held = new FirstAnswer(res));
    void spooled.then(() => {
      first.restore();
      held = undefined;
      end.apply(res, args);
    });
    return res;
  };
}

/**
 * Failure policy `'throw'`: holds this response's end (and a `writeHead` just before it, and the last byte of a body
 * of declared length) until `store` settles. Stored: the response goes out as the application first ended it. Not
 * stored: a response not begun becomes a 500 (only `keep` of its headers left); one already streaming is cut, so
 * that the client never takes it for a success. `store` gets the status the application chose. Set on this
 * response object only, for this one request.
 */
export function holdUntilStored(
  res: ServerResponse,
  store: (statusCode: number) => Promise<void>,
  keep: readonly string[],
  report: (error: unknown) => void,
): void {
  /** Set once the application ended the response: from then on, until it is sent, another answer goes nowhere. */
  let held: FirstAnswer | undefined;
  const own = res as unknown as Record<'writeHead' | 'write' | 'flushHeaders' | 'end', Method>;
  const original = { writeHead: own.writeHead, write: own.write, flushHeaders: own.flushHeaders, end: own.end };
  let head: unknown[] | undefined;
  /** The last byte of a body of declared length: sent with the end, so that a cut body is never whole. */
  let lastByte: Buffer | undefined;
  /** Bytes the declared length still expects; undefined without one. */
  let expected: number | undefined;
  let ended = false;
  /** The body started: Node writes the head itself (through `writeHead`), which must go out then. */
  let streaming = false;
  /** A held `writeHead` goes out before anything else does. */
  const sendHead = () => {
    if (!head) return;
    const args = head;
    head = undefined;
    original.writeHead.apply(res, args);
  };
  const sendLastByte = () => {
    if (!lastByte) return;
    const byte = lastByte;
    lastByte = undefined;
    original.write.call(res, byte);
  };
  own.writeHead = function writeHead(...args: unknown[]) {
    if (held) return res;
    if (ended || streaming) return original.writeHead.apply(res, args);
    // Copied: a framework may change the headers object it passed (Fastify does, sending again) while it is held.
    head = args.map((arg) => (Array.isArray(arg) ? [...(arg as unknown[])] : arg !== null && typeof arg === 'object' ? { ...arg } : arg));
    return res;
  };
  /** The body starts: the length it declares is read now, before its head goes out. */
  const startStreaming = () => {
    if (streaming) return;
    streaming = true;
    expected = declaredLength(head, res);
  };
  own.write = function write(...args: unknown[]) {
    if (held) return refusedWrite(args);
    startStreaming();
    sendHead();
    const bytes = expected === undefined ? undefined : chunkBytes(args);
    if (expected === undefined || bytes === undefined || bytes.length === 0) return original.write.apply(res, args);
    // Past the declared length (the application's mistake): what was kept back goes first, in order.
    if (expected <= 0) {
      sendLastByte();
      return original.write.apply(res, args);
    }
    expected -= bytes.length;
    if (expected > 0) return original.write.apply(res, args);
    // The chunk completes the body: all but its last byte now (with its callback, so that nothing waits on it).
    lastByte = Buffer.from(bytes.subarray(bytes.length - 1));
    const callback = args.find((arg) => typeof arg === 'function');
    return original.write.call(res, bytes.subarray(0, bytes.length - 1), callback);
  };
  own.flushHeaders = function flushHeaders(...args: unknown[]) {
    if (held) return undefined;
    startStreaming();
    sendHead();
    return original.flushHeaders.apply(res, args);
  };
  own.end = function end(...args: unknown[]) {
    if (held) return laterEnd(res, args);
    if (ended) return original.end.apply(res, args);
    ended = true;
    const first = (held = new FirstAnswer(res));
    const status = typeof head?.[0] === 'number' ? head[0] : res.statusCode;
    store(status)
      .then(
        () => {
          held = undefined;
          first.restore();
          sendHead();
          sendLastByte();
          original.end.apply(res, args);
        },
        (error: unknown) => {
          held = undefined;
          report(error);
          lastByte = undefined;
          // The application's end callback runs when the response is done, whatever it became.
          laterEnd(res, args);
          if (res.headersSent) {
            res.destroy(error instanceof Error ? error : new Error(thrownText(error)));
            return;
          }
          head = undefined;
          for (const name of res.getHeaderNames()) if (!keep.includes(name)) res.removeHeader(name);
          res.statusCode = UNSTORED_STATUS;
          res.statusMessage = '';
          res.setHeader('content-type', 'application/json; charset=utf-8');
          original.end.call(res, UNSTORED_BODY);
        },
      )
      // The connection may be gone (or the response destroyed) by now: nothing is left to send it to.
      .catch(report);
    return res;
  };
}

/**
 * The `content-length` of a response about to stream: in a held `writeHead`'s headers (an object, or a raw list of
 * names and values), or set on the response.
 */
function declaredLength(head: unknown[] | undefined, res: ServerResponse): number | undefined {
  const headers = head?.find((arg) => arg !== null && typeof arg === 'object');
  const entries: Array<[unknown, unknown]> = Array.isArray(headers)
    ? headers.flatMap((item: unknown, i, list): Array<[unknown, unknown]> =>
        Array.isArray(item) ? [[item[0], item[1]]] : i % 2 === 0 ? [[item, list[i + 1]]] : [],
      )
    : Object.entries((headers ?? {}) as Record<string, unknown>);
  const given = entries.find(([name]) => typeof name === 'string' && name.toLowerCase() === 'content-length')?.[1];
  const length = Number(given ?? res.getHeader('content-length'));
  return Number.isFinite(length) && (given !== undefined || res.hasHeader('content-length')) ? length : undefined;
}

/** The bytes of a `write(chunk, encoding?, callback?)`. */
function chunkBytes(args: unknown[]): Uint8Array {
  const [chunk, encoding] = args;
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk : new Uint8Array(0);
}
