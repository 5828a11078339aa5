import { randomUUID } from 'node:crypto';
import { type Db, MongoClient, type MongoClientOptions } from 'mongodb';
import { afterAll, inject } from 'vitest';

export const mongoUri = () => inject('mongoUri');
export const mongoKind = () => inject('mongoKind');

/** A fresh database on the run's MongoDB for this suite, dropped after it. */
export function useMongoDatabase(options: MongoClientOptions = {}): () => Promise<{ client: MongoClient; db: Db }> {
  let opened: { client: MongoClient; db: Db } | undefined;
  afterAll(async () => {
    if (!opened) return;
    await opened.db.dropDatabase().catch(() => {});
    await opened.client.close();
  });
  return async () => {
    if (!opened) {
      const client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000, ...options });
      opened = { client, db: client.db(`actionlog_test_${randomUUID().slice(0, 8)}`) };
    }
    return opened;
  };
}
