import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Document } from 'bson';
import { WireState } from './commands.js';
import { encodeReply, type IncomingCommand, MessageReader, parseMessage, readHeader } from './protocol.js';
import { HELLO_COMMANDS } from './topology.js';

/**
 * A MongoDB stand-in for tests on machines without `mongod`: the wire protocol (OP_MSG, and the legacy
 * OP_QUERY handshake) over TCP, data in memory, queries, updates and aggregation evaluated by mingo, unique
 * indexes enforced, sessions, retryable writes and transactions, presented as a one-member replica set that
 * drivers monitor as they monitor MongoDB (awaitable hello, streamed over exhaust).
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
    // One command at a time per connection, in order, as MongoDB runs them: an awaitable hello holds the next.
    let turn = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const message of messages) {
        let request: IncomingCommand;
        try {
          request = parseMessage(message);
        } catch {
          socket.destroy();
          return;
        }
        this.received.push(Object.keys(request.body)[0] ?? '');
        turn = turn
          .then(() => this.serve(socket, connectionId, request))
          .catch(() => {
            socket.destroy();
          });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  /**
   * Answers one request; a hello that allows exhaust and succeeds is answered again and again (each reply says more
   * is to come, each after the awaitable wait), until the connection closes, as MongoDB streams server monitoring.
   */
  private async serve(socket: Socket, connectionId: number, request: IncomingCommand): Promise<void> {
    let body = request.body;
    let responseTo = request.header.requestId;
    for (;;) {
      await holdOn(socket, this.state.awaitTime(body, request.exhaustAllowed));
      // The connection may have closed while the hello waited: nobody is left to answer.
      if (socket.destroyed) return;
      const reply = this.state.run(body, connectionId, this.address, request.exhaustAllowed);
      if (request.moreToCome) return;
      const streams = request.exhaustAllowed && reply.ok === 1 && HELLO_COMMANDS.has(Object.keys(body)[0] ?? '');
      const encoded = encodeReply(request, reply, { moreToCome: streams, responseTo });
      socket.write(encoded);
      if (!streams) return;
      // The next reply of the stream answers this one, for the topology as this one reported it.
      responseTo = readHeader(encoded).requestId;
      body = { ...body, topologyVersion: reply.topologyVersion as Document };
    }
  }
}

/** Waits `ms`, or less if the connection closes first. */
function holdOn(socket: Socket, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    socket.once('close', done);
  });
}
