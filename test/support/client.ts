import { Agent, request as httpRequest } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): unknown;
}

export interface Send {
  method?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON unless a content-type header says otherwise. */
  body?: unknown;
}

/** A small HTTP client on a keep-alive agent, so sockets are reused between requests. */
export class Client {
  readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    maxSockets = 16,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  send(path: string, init: Send = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...init.headers };
    let payload: Buffer | undefined;
    if (init.body !== undefined) {
      const raw = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
      payload = Buffer.from(raw);
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${this.baseUrl}${path}`, { method: init.method ?? 'GET', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: (): unknown => JSON.parse(body) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Sends a request and destroys the socket once `leave` settles (e.g. the handler started), before the response comes. */
  abort(path: string, leave: Promise<unknown>): Promise<void> {
    return new Promise((resolve) => {
      const req = httpRequest(`${this.baseUrl}${path}`, { method: 'GET' });
      req.on('error', () => {
        resolve();
      });
      req.on('close', () => {
        resolve();
      });
      req.end();
      void leave.finally(() => req.destroy());
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
