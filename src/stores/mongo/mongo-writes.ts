import type { RequestAppend, RequestDocument } from '../../shared/document.js';
import type { MongoCollectionLike, MongoDocument, MongoWriteErrorLike } from './mongo-types.js';

/** Bookkeeping field of request documents: the late appends already applied (hidden on reads). */
export const APPLIED = '_appends';
export const DUPLICATE_KEY = 11000;

/** Inserts documents whose ids were stamped on the first attempt: a duplicate `_id` means already stored. */
export async function insertOnce(collection: MongoCollectionLike, docs: object[]): Promise<void> {
  if (docs.length === 0) return;
  try {
    // The driver sets `_id` on these very objects before sending; a retry sends the same ids.
    await collection.insertMany(docs, { ordered: false, forceServerObjectId: false });
  } catch (error) {
    const writeErrors = writeErrorsOf(error);
    if (!writeErrors || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
  }
}

/** Inserts request documents; one meeting its own `uid` is settled by `settleDuplicate`. */
export async function insertRequests(requests: MongoCollectionLike, docs: RequestDocument[]): Promise<void> {
  if (docs.length === 0) return;
  try {
    await requests.insertMany(docs, { ordered: false, forceServerObjectId: false });
  } catch (error) {
    const writeErrors = writeErrorsOf(error);
    if (!writeErrors) throw error;
    for (const e of writeErrors) {
      const doc = docs[e.index];
      if (doc && e.code === DUPLICATE_KEY) await settleDuplicate(requests, doc);
    }
    if (writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
  }
}

/**
 * A request document met one with its `uid` (the server's id, unique): late events stored first (the document
 * merges in front of them, and the entry becomes visible with this write's sequence), or this very document,
 * stored by an earlier attempt (done). Another request that claims the same `request_uuid` never meets it: that id
 * is not a key.
 */
async function settleDuplicate(requests: MongoCollectionLike, doc: RequestDocument): Promise<void> {
  await requests.updateOne({ uid: doc.uid, timestamp: { $exists: false } }, mergeUpdate(doc));
}

/** Applies late events to their documents, once each, creating a document not there yet. */
export async function appendEvents(requests: MongoCollectionLike, appends: RequestAppend[]): Promise<void> {
  if (appends.length === 0) return;
  const ops = appends.map((a) => ({ updateOne: { filter: appendFilter(a), update: appendUpdate(a), upsert: true } }));
  try {
    await requests.bulkWrite(ops, { ordered: false });
  } catch (error) {
    const writeErrors = writeErrorsOf(error);
    if (!writeErrors || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
    // A duplicate on upsert: the document exists and either has this append already (the filter excluded it)
    // or was created by a concurrent upsert; applying it again without upsert settles which.
    for (const e of writeErrors) {
      const append = appends[e.index];
      if (append) await requests.updateOne(appendFilter(append), appendUpdate(append));
    }
  }
}

function appendFilter(a: RequestAppend): MongoDocument {
  return { uid: a.uid, [APPLIED]: { $ne: a.append_id } };
}

function appendUpdate(a: RequestAppend): MongoDocument {
  const update: MongoDocument = {
    $push: {
      'details.model_logs': { $each: a.model_logs },
      'details.actions': { $each: a.actions },
      [APPLIED]: a.append_id,
      // In the same update as its events: the links stay in the order of the tails they describe.
      ...(a.integrity ? { 'integrity.appends': a.integrity } : {}),
    },
    // A placeholder expires with its request (the TTL index or a purge deletes it if its document never comes).
    $setOnInsert: { request_uuid: a.request_uuid, module: a.module, ...(a.expires_at ? { expires_at: a.expires_at } : {}) },
  };
  const inc = counts(a.model_logs_spilled, a.actions_spilled);
  if (inc) update.$inc = inc;
  return update;
}

/** Puts a request document in front of the late events stored before it. */
function mergeUpdate(doc: RequestDocument): MongoDocument {
  const { _id, request_uuid, details, integrity, ...top } = doc;
  const { model_logs, actions, model_logs_spilled, actions_spilled, ...rest } = details;
  const set: MongoDocument = Object.assign({}, top);
  for (const [key, value] of Object.entries(rest)) set[`details.${key}`] = value;
  // The document's own link beside the links of the appends stored before it.
  for (const [key, value] of Object.entries(integrity ?? {})) if (key !== 'appends') set[`integrity.${key}`] = value;
  const update: MongoDocument = {
    $set: set,
    $push: {
      'details.model_logs': { $each: model_logs, $position: 0 },
      'details.actions': { $each: actions, $position: 0 },
    },
  };
  const inc = counts(model_logs_spilled ?? 0, actions_spilled ?? 0);
  if (inc) update.$inc = inc;
  return update;
}

function counts(modelLogs: number, actions: number): MongoDocument | undefined {
  const inc: MongoDocument = {};
  if (modelLogs > 0) inc['details.model_logs_spilled'] = modelLogs;
  if (actions > 0) inc['details.actions_spilled'] = actions;
  return Object.keys(inc).length > 0 ? inc : undefined;
}

/** The write errors of a driver bulk write error, or undefined for any other error. */
export function writeErrorsOf(error: unknown): MongoWriteErrorLike[] | undefined {
  const e = error as { writeErrors?: unknown; code?: number };
  if (Array.isArray(e.writeErrors) && e.writeErrors.length > 0) return e.writeErrors as MongoWriteErrorLike[];
  // A bulk write of one operation may surface as a plain server error.
  if (e.code === DUPLICATE_KEY && 'index' in (error as object)) return [error as MongoWriteErrorLike];
  return undefined;
}

/** Stores a checkpoint once: a duplicate `uid` means an earlier attempt stored it. */
export async function insertCheckpoint(checkpoints: MongoCollectionLike, checkpoint: object): Promise<void> {
  try {
    await checkpoints.insertOne(checkpoint, { forceServerObjectId: false });
  } catch (error) {
    if ((error as { code?: number }).code !== DUPLICATE_KEY) throw error;
  }
}
