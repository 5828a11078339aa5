import { createActionLogger, type ActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { sameValue } from 'actionlog/adapter-kit';
import type { Collection } from 'mongoose';
import { expect } from 'vitest';
import { logsOf } from './logs.js';

type Raw = Record<string, unknown>;
/** Any model: only its collection is read. */
interface WithCollection {
  collection: Collection;
}

/** A logger on a memory store, with every error it reports kept (a test of exactness fails on any). */
export function exactLogger(): {
  logger: ActionLogger;
  errors: Error[];
  logsOf: (fn: () => unknown) => Promise<ModelLog[]>;
} {
  const errors: Error[] = [];
  const store = new MemoryStore();
  const logger = createActionLogger({ store, flushIntervalMs: 0, onError: (e) => errors.push(e) });
  return { logger, errors, logsOf: (fn) => logsOf(logger, store, fn) };
}

/** A stored value as a model log holds it: ObjectIds as their hex strings, the rest as read. */
export function asLogged(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asLogged);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const bson = value as { _bsontype?: string; toHexString?: () => string };
  if (bson._bsontype === 'ObjectId' && bson.toHexString) return bson.toHexString();
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asLogged(v)]));
}

/** The collection's documents read with the native driver (no Mongoose, no capture), by `_id`, as logged. */
export async function storedDocuments(model: WithCollection): Promise<Map<string, Raw>> {
  const docs = await model.collection.find({}).toArray();
  return new Map(docs.map((d) => [String(d._id), asLogged(d) as Raw]));
}

/**
 * Replays model logs onto `before` and checks each against the state it changes: a Created document was absent,
 * an Updated or Deleted one's old object is exactly the state so far. Returns the replayed state and what did
 * not fit (a change missing, recorded twice, or with a wrong old state shows up here).
 */
export function replay(before: Map<string, Raw>, logs: ModelLog[]): { state: Map<string, Raw>; problems: string[] } {
  const state = new Map(before);
  const problems: string[] = [];
  for (const [i, log] of logs.entries()) {
    const id = log.model_id;
    const { old_object, new_object } = log.model_details;
    if (id === null || log.truncated) {
      problems.push(`log ${i}: a summary entry, not a document`);
      continue;
    }
    if (log.action === 'Created') {
      if (state.has(id)) problems.push(`log ${i}: Created ${id}, which already existed`);
      if (old_object !== null) problems.push(`log ${i}: Created ${id} with an old object`);
    } else if (!state.has(id)) {
      problems.push(`log ${i}: ${log.action} ${id}, which did not exist`);
    } else if (!sameValue(state.get(id), old_object)) {
      problems.push(`log ${i}: ${log.action} ${id}: old object ${show(old_object)} is not the state ${show(state.get(id))}`);
    }
    if (new_object === null) state.delete(id);
    else state.set(id, new_object);
  }
  return { state, problems };
}

/** The logs of one call, checked against the database before and after it: every change once, exactly. */
export function expectExact(before: Map<string, Raw>, logs: ModelLog[], after: Map<string, Raw>, errors: Error[]): void {
  const { state, problems } = replay(before, logs);
  expect(problems).toEqual([]);
  expect(Object.fromEntries(state)).toEqual(Object.fromEntries(after));
  expect(errors).toEqual([]);
}

function show(value: unknown): string {
  return JSON.stringify(value);
}
