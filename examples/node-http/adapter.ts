import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActionLogger } from 'actionlog';
import { HttpCapture, type HttpOptions, type HttpRequestReader } from 'actionlog/adapter-kit';

/** A plain node:http request; the application sets `user` and `body` itself. */
export interface NodeRequest extends IncomingMessage {
  user?: unknown;
  body?: unknown;
}

// How to read the framework's request: one object for the whole app, nothing allocated per request.
const reader: HttpRequestReader<NodeRequest> = {
  raw: (req) => req,
  url: (req) => req.url ?? '/',
  ip: (req) => req.socket.remoteAddress,
  body: (req) => req.body,
  route: () => undefined, // node:http has no routes: the module comes from the options, else "app"
  user: (req) => req.user,
};

type Handler = (req: NodeRequest, res: ServerResponse) => void;

/** Wraps a node:http handler: one request document per request, the handler run inside its scope. */
export function withActionLog(logger: ActionLogger, handler: Handler, options: HttpOptions<NodeRequest> = {}): Handler {
  const capture = new HttpCapture(logger, reader, options);
  return (req, res) => {
    const scope = capture.open(req, res);
    if (scope) {
      capture.enter(scope, () => {
        handler(req, res);
      });
    } else {
      handler(req, res);
    }
  };
}
