import type { Model, Query } from 'mongoose';

// Mongoose's generic types carry each model's document type; the capture handles every model alike.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyModel = Model<any>;
export type AnyQuery = Query<any, any>;
/** A stored document or a value inside one, as the driver returns it. */
export type Raw = Record<string, unknown>;

/** A driver collection method, as Mongoose's collection wrapper hands it over. */
export type CollectionMethod = (...args: unknown[]) => Promise<unknown>;

/** What findAndModify answers with `includeResultMetadata`. */
export interface FindAndModifyReply {
  value?: Raw | null;
  lastErrorObject?: { n?: unknown; upserted?: unknown };
}
