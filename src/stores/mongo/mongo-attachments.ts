import { Readable } from 'node:stream';
import type { StoredAttachment } from '../../shared/document.js';
import { ActionLogStoreError } from '../../shared/errors.js';
import type { PurgeQuery } from '../store.js';
import type { MongoBinaryLike, MongoCollectionLike, MongoDocument } from './mongo-types.js';

/** GridFS's default chunk size: 255 KiB. */
const CHUNK_BYTES = 255 * 1024;
/** Chunks read per round trip: about 2 MiB held at a time, whatever the attachment's size. */
const CHUNKS_PER_READ = 8;
const DUPLICATE_KEY = 11000;

/**
 * Attachments in a GridFS bucket (`<bucket>.files`, `<bucket>.chunks`, laid out as the GridFS specification has
 * them, so that the driver's `GridFSBucket` and `mongofiles` read them too): the file's `_id` is the attachment id,
 * `filename` its name, and `metadata` the rest. Written through the collections the store already uses.
 */
export class MongoAttachments {
  constructor(private readonly bucket: () => { files: MongoCollectionLike; chunks: MongoCollectionLike }) {}

  /** The GridFS indexes (the specification's two), and those `purge` reads by. */
  async createIndexes(): Promise<void> {
    const { files, chunks } = this.bucket();
    await chunks.createIndexes([{ key: { files_id: 1, n: 1 }, name: 'files_id_1_n_1', unique: true }]);
    await files.createIndexes([
      { key: { filename: 1, uploadDate: 1 }, name: 'filename_1_uploadDate_1' },
      { key: { 'metadata.timestamp': 1 }, name: 'metadata_timestamp' },
      { key: { 'metadata.expires_at': 1 }, name: 'metadata_expires_at', sparse: true },
    ]);
  }

  /**
   * Chunks first, then the file document that makes them a file: a reader never sees a file with chunks missing. A
   * retry skips a file that is there, and clears the chunks an attempt left without their file before writing them.
   */
  async put(attachments: StoredAttachment[]): Promise<void> {
    const { files, chunks } = this.bucket();
    for (const a of attachments) {
      if (await files.findOne({ _id: a.id }, { projection: { _id: 1 } })) continue;
      await chunks.deleteMany({ files_id: a.id });
      const parts: MongoDocument[] = [];
      for (let n = 0; n * CHUNK_BYTES < a.data.length; n++) {
        parts.push({ files_id: a.id, n, data: a.data.subarray(n * CHUNK_BYTES, (n + 1) * CHUNK_BYTES) });
      }
      if (parts.length > 0) await chunks.insertMany(parts, { ordered: true });
      const metadata: MongoDocument = { type: a.type, mime_type: a.mime_type, sha256: a.sha256, timestamp: a.timestamp };
      if (a.expires_at) metadata.expires_at = a.expires_at;
      const file = { _id: a.id, length: a.data.length, chunkSize: CHUNK_BYTES, uploadDate: new Date(), filename: a.name, metadata };
      await files.insertOne(file).catch((error: unknown) => {
        // Another writer stored the same attachment meanwhile (the same bytes under the same id).
        if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      });
    }
  }

  /** The file's bytes, a few chunks per round trip; null when there is no such file or it expired. */
  async read(id: string, now: Date): Promise<Readable | null> {
    const { files, chunks } = this.bucket();
    const file = await files.findOne({ _id: id });
    const expires = (file?.metadata as { expires_at?: unknown } | undefined)?.expires_at;
    if (!file || (expires instanceof Date && expires <= now)) return null;
    const length = Number(file.length);
    const chunkSize = Number(file.chunkSize);
    const count = Math.ceil(length / chunkSize);
    async function* content(): AsyncGenerator<Buffer> {
      for (let next = 0; next < count;) {
        const page = await chunks
          .find({ files_id: id, n: { $gte: next } })
          .sort({ n: 1 })
          .limit(CHUNKS_PER_READ)
          .toArray();
        if (page.length === 0) throw missing(id, next);
        for (const chunk of page) {
          if (chunk.n !== next) throw missing(id, next);
          const bytes = bytesOf(chunk.data);
          const expected = next === count - 1 ? length - next * chunkSize : chunkSize;
          if (bytes.length !== expected)
            throw new ActionLogStoreError(`attachment ${id}: chunk ${next} has ${bytes.length} bytes, not ${expected}`, 0);
          yield bytes;
          next++;
        }
      }
    }
    return Readable.from(content(), { objectMode: false });
  }

  /** One batch: the files expired or older than `before`, their chunks first (a rerun finds a file a kill left). */
  async purge(query: Omit<PurgeQuery, 'kind'>): Promise<number> {
    if (query.limit < 1) return 0;
    const { files, chunks } = this.bucket();
    const expired: MongoDocument = { 'metadata.expires_at': { $lte: query.expiredAt } };
    const condition = query.before ? { $or: [expired, { 'metadata.timestamp': { $lt: query.before } }] } : expired;
    const found = await files
      .find(condition, { projection: { _id: 1 } })
      .limit(query.limit)
      .toArray();
    if (found.length === 0) return 0;
    const ids = found.map((file) => file._id);
    await chunks.deleteMany({ files_id: { $in: ids } });
    return (await files.deleteMany({ _id: { $in: ids } })).deletedCount;
  }
}

const missing = (id: string, n: number) => new ActionLogStoreError(`attachment ${id}: chunk ${n} is missing`, 0);

/** A chunk's bytes: the driver gives a BSON Binary (or a Buffer, with `promoteBuffers`). */
function bytesOf(data: unknown): Buffer {
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const binary = data as MongoBinaryLike | null;
  if (binary && binary.buffer instanceof Uint8Array) {
    const { buffer } = binary;
    return Buffer.from(buffer.buffer, buffer.byteOffset, binary.position);
  }
  throw new ActionLogStoreError('an attachment chunk holds no binary data', 0);
}
