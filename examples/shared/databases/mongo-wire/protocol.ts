import { BSON, type Document } from 'bson';

/** Opcodes of the MongoDB wire protocol this server speaks. */
export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;

const CHECKSUM_PRESENT = 1;
export const MORE_TO_COME = 1 << 1;
const EXHAUST_ALLOWED = 1 << 16;

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

/** A command as received, whatever the opcode: the body plus OP_MSG document sequences merged in. */
export interface IncomingCommand {
  header: Header;
  body: Document;
  /** OP_MSG: the client expects no reply (unacknowledged write). */
  moreToCome: boolean;
  /** OP_MSG: the client takes a stream of replies to this one request (the awaitable hello of server monitoring). */
  exhaustAllowed: boolean;
  /** OP_QUERY handshakes are answered with OP_REPLY. */
  legacy: boolean;
}

export function readHeader(buf: Buffer): Header {
  return { length: buf.readInt32LE(0), requestId: buf.readInt32LE(4), responseTo: buf.readInt32LE(8), opCode: buf.readInt32LE(12) };
}

const deserializeOptions = { promoteLongs: true, promoteValues: true, promoteBuffers: false, bsonRegExp: false };

/** Parses one complete message. Unknown opcodes throw: the server answers nothing it does not understand. */
export function parseMessage(buf: Buffer): IncomingCommand {
  const header = readHeader(buf);
  if (header.opCode === OP_MSG) {
    const flags = buf.readUInt32LE(16);
    const end = flags & CHECKSUM_PRESENT ? header.length - 4 : header.length;
    let offset = 20;
    let body: Document | undefined;
    const sequences: Record<string, Document[]> = {};
    while (offset < end) {
      const kind = buf[offset++];
      if (kind === 0) {
        const size = buf.readInt32LE(offset);
        body = BSON.deserialize(buf.subarray(offset, offset + size), deserializeOptions);
        offset += size;
      } else if (kind === 1) {
        const size = buf.readInt32LE(offset);
        const stop = offset + size;
        const nameEnd = buf.indexOf(0, offset + 4);
        const identifier = buf.toString('utf8', offset + 4, nameEnd);
        let cursor = nameEnd + 1;
        const docs: Document[] = [];
        while (cursor < stop) {
          const docSize = buf.readInt32LE(cursor);
          docs.push(BSON.deserialize(buf.subarray(cursor, cursor + docSize), deserializeOptions));
          cursor += docSize;
        }
        sequences[identifier] = docs;
        offset = stop;
      } else {
        throw new Error(`OP_MSG section kind ${kind} is not supported`);
      }
    }
    if (!body) throw new Error('OP_MSG without a body section');
    return {
      header,
      body: { ...body, ...sequences },
      moreToCome: (flags & MORE_TO_COME) !== 0,
      exhaustAllowed: (flags & EXHAUST_ALLOWED) !== 0,
      legacy: false,
    };
  }
  if (header.opCode === OP_QUERY) {
    // int32 flags, cstring fullCollectionName, int32 skip, int32 return, document query
    const nameEnd = buf.indexOf(0, 20);
    const collection = buf.toString('utf8', 20, nameEnd);
    const queryStart = nameEnd + 1 + 8;
    const size = buf.readInt32LE(queryStart);
    const query = BSON.deserialize(buf.subarray(queryStart, queryStart + size), deserializeOptions);
    if (!collection.endsWith('.$cmd')) throw new Error(`legacy OP_QUERY on ${collection} is not supported (only commands)`);
    // Legacy commands may wrap the command in { $query: ... }.
    const body = (query.$query as Document | undefined) ?? query;
    return { header, body: { ...body, $db: collection.slice(0, -'.$cmd'.length) }, moreToCome: false, exhaustAllowed: false, legacy: true };
  }
  throw new Error(`opcode ${header.opCode} is not supported`);
}

let nextRequestId = 1;

/**
 * Encodes a reply to `request` in the opcode the client used. An exhaust stream's replies say `moreToCome` (another
 * follows), and answer the previous reply of the stream (`responseTo`) rather than the request.
 */
export function encodeReply(request: IncomingCommand, reply: Document, stream: { moreToCome?: boolean; responseTo?: number } = {}): Buffer {
  const doc = BSON.serialize(reply);
  const requestId = nextRequestId++;
  if (request.legacy) {
    // OP_REPLY: int32 flags, int64 cursorId, int32 startingFrom, int32 numberReturned, documents
    const head = Buffer.alloc(16 + 20);
    head.writeInt32LE(head.length + doc.length, 0);
    head.writeInt32LE(requestId, 4);
    head.writeInt32LE(request.header.requestId, 8);
    head.writeInt32LE(OP_REPLY, 12);
    head.writeInt32LE(0, 16);
    head.writeBigInt64LE(0n, 20);
    head.writeInt32LE(0, 28);
    head.writeInt32LE(1, 32);
    return Buffer.concat([head, doc]);
  }
  const head = Buffer.alloc(16 + 4 + 1);
  head.writeInt32LE(head.length + doc.length, 0);
  head.writeInt32LE(requestId, 4);
  head.writeInt32LE(stream.responseTo ?? request.header.requestId, 8);
  head.writeInt32LE(OP_MSG, 12);
  head.writeUInt32LE(stream.moreToCome ? MORE_TO_COME : 0, 16);
  head.writeUInt8(0, 20);
  return Buffer.concat([head, doc]);
}

/** Splits a byte stream into complete messages. */
export class MessageReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readInt32LE(0);
      if (length < 16 || length > 64 * 1024 * 1024) throw new Error(`invalid message length ${length}`);
      if (this.pending.length < length) break;
      messages.push(this.pending.subarray(0, length));
      this.pending = this.pending.subarray(length);
    }
    return messages;
  }
}
