import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import type { Document } from 'bson';
import { MessageReader, parseMessage, readHeader } from '../../examples/shared/databases/mongo-wire/protocol.js';

type Match = (command: string, body: Document) => boolean;

interface Fault {
  match: Match;
  /** `reply`: the server gets the whole command, the client never gets the answer. `request`: the server gets half of it. */
  kind: 'reply' | 'request';
  done: () => void;
}

/**
 * A TCP proxy in front of a MongoDB that breaks one connection on demand, in the middle of a chosen command:
 * for testing that retried writes never store a document twice.
 */
export class FaultProxy {
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private faults: Fault[] = [];

  constructor(private readonly target: { host: string; port: number }) {}

  static fromUri(uri: string): FaultProxy {
    const hostPort = new URL(uri.replace(/^mongodb:\/\//, 'http://')).host.split(',')[0]!;
    const [host, port] = hostPort.split(':');
    return new FaultProxy({ host: host!, port: Number(port ?? 27017) });
  }

  async start(): Promise<string> {
    this.server = createServer((client) => {
      this.accept(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return `127.0.0.1:${this.port}`;
  }

  /**
   * The server goes away as a stopped mongod does: every open connection is closed, and a new one is refused (nothing
   * listens on the port) until `back()`.
   */
  async away(): Promise<void> {
    await this.stop();
    this.server = undefined;
  }

  /** The server answers again, on the same address. */
  async back(): Promise<void> {
    await this.start();
  }

  /** Drops the connection after the server ran the next matching command, before the client gets the reply. */
  dropReply(match: Match): Promise<void> {
    return new Promise((done) => this.faults.push({ match, kind: 'reply', done }));
  }

  /** Drops the connection halfway through sending the next matching command: the server never runs it. */
  cutRequest(match: Match): Promise<void> {
    return new Promise((done) => this.faults.push({ match, kind: 'request', done }));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      if (this.server)
        this.server.close(() => {
          resolve();
        });
      else resolve();
    });
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(client).add(upstream);
    const doomed = new Set<number>();
    const fromClient = new MessageReader();
    const fromServer = new MessageReader();
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      for (const message of fromClient.push(chunk)) {
        const fault = this.takeFault(message);
        if (fault?.kind === 'request') {
          upstream.write(message.subarray(0, Math.floor(message.length / 2)), () => {
            kill();
            fault.done();
          });
          return;
        }
        if (fault) {
          doomed.add(readHeader(message).requestId);
          upstream.write(message, () => setTimeout(fault.done, 0));
          continue;
        }
        upstream.write(message);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const message of fromServer.push(chunk)) {
        if (doomed.has(readHeader(message).responseTo)) {
          kill();
          return;
        }
        client.write(message);
      }
    });
    for (const socket of [client, upstream]) {
      socket.on('error', kill);
      socket.on('close', () => {
        this.sockets.delete(socket);
        kill();
      });
    }
  }

  private takeFault(message: Buffer): Fault | undefined {
    if (this.faults.length === 0) return undefined;
    let body: Document;
    try {
      body = parseMessage(message).body;
    } catch {
      return undefined;
    }
    const command = Object.keys(body)[0] ?? '';
    const index = this.faults.findIndex((f) => f.match(command, body));
    if (index === -1) return undefined;
    return this.faults.splice(index, 1)[0];
  }
}
