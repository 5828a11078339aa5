import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Db, GridFSBucket, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoStore, type StoredAttachment } from 'actionlog';
import { freshDatabaseName, mongoUri } from '../../support/mongo-db.js';
import { failOnWarning } from '../../support/matchers.js';
import { bytesOf } from '../../support/attachment-contract.js';

let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
  db = client.db(freshDatabaseName());
});
afterAll(async () => {
  await db.dropDatabase().catch(() => {});
  await client.close();
});

describe('MongoStore attachments', () => {
  it("are a GridFS bucket: the driver's GridFSBucket reads what the store wrote, and the store what GridFSBucket wrote", async () => {
    const store = new MongoStore({ db });
    await store.init({ actionLogs: true, modelLogs: true, retention: false, warn: failOnWarning });
    const data = randomBytes(700_000);
    const attachment: StoredAttachment = {
      id: randomUUID(),
      name: 'scan.png',
      type: 'scan',
      mime_type: 'image/png',
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      data,
      timestamp: new Date(),
    };
    await store.putAttachments([attachment]);
    const bucket = new GridFSBucket(db, { bucketName: 'actionlog_attachments' });
    expect((await bytesOf(bucket.openDownloadStream(attachment.id as never))).equals(data)).toBe(true);
    const [file] = await bucket.find({ _id: attachment.id as never }).toArray();
    expect(file).toMatchObject({ filename: 'scan.png', length: data.length, chunkSize: 255 * 1024, metadata: { mime_type: 'image/png' } });
    expect(await db.collection('actionlog_attachments.chunks').countDocuments({ files_id: attachment.id })).toBe(3);

    const other = randomBytes(300_000);
    const id = randomUUID();
    await new Promise<void>((resolve, reject) => {
      bucket
        .openUploadStreamWithId(id as never, 'other.bin', { chunkSizeBytes: 100_000 })
        .on('error', reject)
        .on('finish', resolve)
        .end(other);
    });
    expect((await bytesOf(await store.readAttachment(id))).equals(other)).toBe(true);
  });

  it('reads a file with a chunk missing as a stream error, never as shorter bytes', async () => {
    const store = new MongoStore({ db });
    const data = randomBytes(600_000);
    const id = randomUUID();
    await store.putAttachments([
      { id, name: 'a', type: 'file', mime_type: 'application/octet-stream', size: data.length, sha256: '', data, timestamp: new Date() },
    ]);
    await db.collection('actionlog_attachments.chunks').deleteOne({ files_id: id, n: 1 });
    await expect(bytesOf(await store.readAttachment(id))).rejects.toThrow(`attachment ${id}: chunk 1 is missing`);
  });
});
