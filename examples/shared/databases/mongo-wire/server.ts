import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WireState } from './commands.js';
import { encodeReply, MessageReader, parseMessage } from './protocol.js';

/**
 * A MongoDB stand-in for tests on machines without `mongod`: the wire protocol (OP_MSG, and the legacy
 * OP_QUERY handshake) over TCP, data in memory, queries, updates and aggregation evaluated by mingo, unique
 * indexes enforced, sessions, retryable writes and transactions, presented as a one-member replica set.
 * A command or option it does not implement is answered with an error (CommandNotFound, NotImplemented),
 * never with a silent success. Never shipped in the package.
 */
export class MongoWireServer {
  readonly state = new WireState();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private connections = 0;
  /** Every command name received, in order: lets tests see what a driver sent. */
  readonly received: string[] = [];

  async start(port = 0): Promise<string> {
    const server = createServer((socket) => {
      this.accept(socket);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return this.uri;
  }

  get address(): string {
    const { port } = this.server?.address() as AddressInfo;
    return `127.0.0.1:${port}`;
  }

  get uri(): string {
    return `mongodb://${this.address}/?replicaSet=rs0`;
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

  private accept(socket: Socket): void {
    const connectionId = ++this.connections;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const reader = new MessageReader();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const message of messages) {
        let request;
        try {
          request = parseMessage(message);
        } catch {
          socket.destroy();
          return;
        }
        const name = Object.keys(request.body)[0] ?? '';
        this.received.push(name);
        const reply = this.state.run(request.body, connectionId, this.address);
        if (!request.moreToCome && !socket.destroyed) socket.write(encodeReply(request, reply));
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }
}
