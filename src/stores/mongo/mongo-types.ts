/**
 * The few parts of the official `mongodb` driver MongoStore uses, described structurally so that the core
 * never imports the driver (an optional peer). A driver `Db` (or `mongoose.connection.db`) fits. Parameters
 * are `any` on purpose: the driver's own parameter types are far richer and change between versions.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */

export type MongoDocument = Record<string, unknown>;

export interface MongoWriteErrorLike {
  index: number;
  code?: number;
  errmsg?: string;
}

/** A BSON Binary as the driver returns binary data: its bytes are the first `position` of `buffer`. */
export interface MongoBinaryLike {
  readonly buffer: Uint8Array;
  readonly position: number;
}

export interface MongoCursorLike {
  sort(sort: any): MongoCursorLike;
  limit(n: number): MongoCursorLike;
  toArray(): Promise<MongoDocument[]>;
}

/** A driver change stream, as `db.watch()` returns it (it opens when a `change` listener is added). */
export interface MongoChangeStreamLike {
  on(event: 'change', listener: (change: MongoDocument) => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  close(): Promise<void>;
}

export interface MongoCollectionLike {
  insertMany(docs: any, options?: any): Promise<unknown>;
  insertOne(doc: any, options?: any): Promise<unknown>;
  updateOne(filter: any, update: any, options?: any): Promise<{ matchedCount: number }>;
  bulkWrite(operations: any, options?: any): Promise<unknown>;
  deleteMany(filter: any, options?: any): Promise<{ deletedCount: number }>;
  findOne(filter: any, options?: any): Promise<MongoDocument | null>;
  /** Driver 6 and later: the document itself (before or after, per `returnDocument`), or null. */
  findOneAndUpdate(filter: any, update: any, options?: any): Promise<MongoDocument | null>;
  find(filter: any, options?: any): MongoCursorLike;
  countDocuments(filter: any, options?: any): Promise<number>;
  aggregate(pipeline: any, options?: any): { toArray(): Promise<MongoDocument[]> };
  createIndexes(specs: any, options?: any): Promise<unknown>;
  dropIndex(name: string, options?: any): Promise<unknown>;
  listIndexes(options?: any): { toArray(): Promise<MongoDocument[]> };
}

export interface MongoDbLike {
  readonly databaseName: string;
  collection(name: string): MongoCollectionLike;
  command(command: MongoDocument): Promise<MongoDocument>;
  listCollections(filter: MongoDocument, options?: any): { toArray(): Promise<MongoDocument[]> };
  watch(pipeline?: any, options?: any): MongoChangeStreamLike;
}

/** A Mongoose connection: its `db` once open, and the `open` event. */
export interface MongoConnectionLike {
  readonly db: MongoDbLike | undefined;
  once(event: 'open', listener: () => void): unknown;
}

export interface MongoClientLike {
  db(name?: string): MongoDbLike;
}
