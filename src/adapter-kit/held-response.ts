import type { ServerResponse } from 'node:http';
import { thrownText } from '../shared/errors.js';

/** What the response says when the request's document could not be stored under the failure policy `'throw'`. */
export const UNSTORED_STATUS = 500;
const UNSTORED_BODY = JSON.stringify({ error: 'ActionLogStoreError', message: 'The audit entry of this request could not be stored.' });

type Method = (...args: unknown[]) => unknown;

/**
 * Failure policy `'spool'`: runs `spool` with the status the application chose when the response ends, and holds
 * its last bytes until the promise `spool` returns resolves, so that a client never has a whole response whose
 * document is not in the spool. Set on this response object only; `spool` must not throw, its promise not reject.
 */
export function spoolBeforeEnd(res: ServerResponse, spool: (statusCode: number) => Promise<void> | undefined): void {
  const own = res as unknown as Record<'end', Method>;
  const end = own.end;
  let ended = false;
  own.end = function spoolThenEnd(...args: unknown[]) {
    if (ended) return end.apply(res, args);
    ended = true;
    const spooled = spool(res.statusCode);
    if (!spooled) return end.apply(res, args);
    void spooled.then(() => end.apply(res, args));
    return res;
  };
}

/**
 * Failure policy `'throw'`: holds this response's end (and a `writeHead` just before it) until `store` settles.
 * Stored: the response goes out as the application wrote it. Not stored: a response not begun becomes a 500 (only
 * `keep` of its headers left); one already streaming is cut, so that the client never takes it for a success.
 * `store` gets the status the application chose. Set on this response object only, for this one request.
 */
export function holdUntilStored(
  res: ServerResponse,
  store: (statusCode: number) => Promise<void>,
  keep: readonly string[],
  report: (error: unknown) => void,
): void {
  const own = res as unknown as Record<'writeHead' | 'write' | 'flushHeaders' | 'end', Method>;
  const original = { writeHead: own.writeHead, write: own.write, flushHeaders: own.flushHeaders, end: own.end };
  let head: unknown[] | undefined;
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
  own.writeHead = function writeHead(...args: unknown[]) {
    if (ended || streaming) return original.writeHead.apply(res, args);
    head = args;
    return res;
  };
  own.write = function write(...args: unknown[]) {
    streaming = true;
    sendHead();
    return original.write.apply(res, args);
  };
  own.flushHeaders = function flushHeaders(...args: unknown[]) {
    streaming = true;
    sendHead();
    return original.flushHeaders.apply(res, args);
  };
  own.end = function end(...args: unknown[]) {
    if (ended) return original.end.apply(res, args);
    ended = true;
    const status = typeof head?.[0] === 'number' ? head[0] : res.statusCode;
    store(status).then(
      () => {
        sendHead();
        original.end.apply(res, args);
      },
      (error: unknown) => {
        report(error);
        if (res.headersSent) {
          res.destroy(error instanceof Error ? error : new Error(thrownText(error)));
          return;
        }
        head = undefined;
        for (const name of res.getHeaderNames()) if (!keep.includes(name)) res.removeHeader(name);
        res.statusCode = UNSTORED_STATUS;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        original.end.call(res, UNSTORED_BODY);
      },
    );
    return res;
  };
}
