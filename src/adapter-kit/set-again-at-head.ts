import type { ServerResponse } from 'node:http';

/**
 * On the response: the headers set again just before its head goes out. A registered symbol, so that every copy
 * of the package in the process (ESM and CJS) adds to the one wrapper of `writeHead`.
 */
const ECHOED = Symbol.for('actionlog.set-again-at-head');
type Echoing = { [ECHOED]?: Record<string, string> };

/**
 * Sets `headers` on `res` again right before its head goes out: Node writes every head, explicit or implicit (from
 * `write`, `end`, `flushHeaders`), through the response's `writeHead`. For a framework that clears the headers
 * when it answers an error (Koa). A later call's value of a header wins. Set on this response object only.
 */
export function setAgainAtHead(res: ServerResponse, headers: Record<string, string>): void {
  const holder = res as Echoing;
  const echoed = holder[ECHOED];
  if (echoed) {
    Object.assign(echoed, headers);
    return;
  }
  const own = { ...headers };
  holder[ECHOED] = own;
  const target = res as unknown as { writeHead: (...args: unknown[]) => unknown };
  const writeHead = target.writeHead;
  target.writeHead = function writeHeadEchoed(...args: unknown[]) {
    // Once sent, Node's own writeHead says so: nothing is set on a sent head.
    if (!res.headersSent) for (const [name, value] of Object.entries(own)) res.setHeader(name, value);
    return writeHead.apply(res, args);
  };
}
