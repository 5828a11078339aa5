import { randomUUID } from 'node:crypto';
import { type Db, type Document, MongoClient, type MongoClientOptions, type MongoServerError } from 'mongodb';
import mongoose, { type ConnectOptions, type Connection } from 'mongoose';
import { afterAll, inject } from 'vitest';

export const mongoUri = () => inject('mongoUri');
export const mongoKind = () => inject('mongoKind');

/** A name for a database of its own on the run's MongoDB. */
export const freshDatabaseName = () => `actionlog_test_${randomUUID().slice(0, 8)}`;

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
      opened = { client, db: client.db(freshDatabaseName()) };
    }
    return opened;
  };
}

/** A Mongoose connection to a fresh database on the run's MongoDB for this suite, dropped and closed after it. */
export function useMongooseConnection(options: ConnectOptions = {}): () => Promise<Connection> {
  let conn: Connection | undefined;
  afterAll(async () => {
    if (!conn) return;
    await conn.dropDatabase().catch(() => {});
    await conn.close();
  });
  return async () => {
    conn ??= await mongoose
      .createConnection(mongoUri(), { dbName: freshDatabaseName(), serverSelectionTimeoutMS: 10_000, ...options })
      .asPromise();
    return conn;
  };
}

/** The stages of an explain's winning plan, top down; an index scan as `IXSCAN <index> <direction>`. */
export function planStages(explain: Document): string[] {
  const stages: string[] = [];
  let stage = (explain.queryPlanner as Document).winningPlan as Document | undefined;
  // MongoDB's slot-based engine nests the plan one level deeper.
  if (stage?.queryPlan) stage = stage.queryPlan as Document;
  while (stage) {
    stages.push(stage.indexName ? `${stage.stage} ${stage.indexName} ${stage.direction}` : String(stage.stage));
    stage = stage.inputStage as Document | undefined;
  }
  return stages;
}

/** The server error `p` rejects with; fails when it resolves. */
export async function serverError(p: Promise<unknown>): Promise<MongoServerError> {
  try {
    await p;
  } catch (error) {
    return error as MongoServerError;
  }
  throw new Error('expected a rejection');
}
