import { generateKeyPairSync } from 'node:crypto';
import { MongoClient, ObjectId } from 'mongodb';
import {
  type ActionLogger,
  type CheckpointDocument,
  createActionLogger,
  type Entry,
  type EntryKind,
  MemoryStore,
  MongoStore,
  SqlStore,
  type Store,
  type StoredEntry,
} from 'actionlog';
import { actionLogEntities } from 'actionlog/typeorm';
import { freshDatabaseName, mongoUri } from './mongo-db.js';
import { openDatabase } from './sql.js';
import type { StoreKind } from './every-store.js';

export const KINDS: EntryKind[] = ['requests', 'actions', 'changes', 'activities'];

/** An Ed25519 key pair, as an application would hold one. */
export function ed25519() {
  return generateKeyPairSync('ed25519');
}

/** A store on a fresh database, with what a tamperer with database access can do beyond the Store interface. */
export interface TamperableStore {
  store: Store;
  /** Deletes a stored checkpoint by its uid, behind the store's back. */
  dropCheckpoint(uid: string): Promise<void>;
  close(): Promise<void>;
}

export async function openTamperable(kind: StoreKind): Promise<TamperableStore> {
  if (kind === 'memory') {
    const store = new MemoryStore();
    const map = (store as unknown as { checkpointsByUid: Map<string, unknown> }).checkpointsByUid;
    return { store, dropCheckpoint: async (uid) => void map.delete(uid), close: async () => {} };
  }
  if (kind === 'mongodb') {
    const client = await MongoClient.connect(mongoUri(), { serverSelectionTimeoutMS: 10_000 });
    const db = client.db(freshDatabaseName());
    const store = new MongoStore({ db });
    return {
      store,
      dropCheckpoint: async (uid) => {
        await db.collection(store.collections.checkpoints).deleteOne({ uid });
      },
      close: async () => {
        await db.dropDatabase().catch(() => {});
        await client.close();
      },
    };
  }
  const database = await openDatabase(kind, { entities: actionLogEntities(kind) });
  const store = new SqlStore({ dataSource: database.dataSource });
  return {
    store,
    dropCheckpoint: async (uid) => {
      const sql =
        kind === 'postgres'
          ? 'DELETE FROM "actionlog_checkpoints" WHERE "uid" = $1'
          : 'DELETE FROM "actionlog_checkpoints" WHERE "uid" = ?';
      await database.dataSource.query(sql, [uid]);
    },
    close: () => database.drop(),
  };
}

/**
 * A varied trail: requests with model changes (dates, an ObjectId, keys MongoDB must escape), actions, activities,
 * and late events appended to documents already written.
 */
export async function writeTrail(logger: ActionLogger, requests = 6): Promise<void> {
  const late: Array<() => void> = [];
  for (let i = 0; i < requests; i++) {
    await logger.run({ module: 'orders', user: { id: `u${i % 2}`, name: 'Ada' } }, async () => {
      logger.recordModelChange({
        action: i === 0 ? 'Created' : 'Updated',
        model: 'orders',
        model_class_name: 'Order',
        model_namespace: 'shop.orders',
        model_id: `o${i}`,
        old_object: i === 0 ? null : { total: i, 'price.net': 1.5, $tag: 'x', at: new Date(Date.UTC(2024, 0, i + 1)) },
        new_object: { total: i + 1, 'price.net': 2.25, $tag: 'y', at: new Date(Date.UTC(2024, 1, i + 1)), ref: new ObjectId() },
      });
      logger.record({ action: 'checkout', target: { type: 'order', id: `o${i}` }, note: `order ${i}`, details: [{ name: 'n', value: i }] });
      logger.activity({ user: { lookup_from: 'users', _id: new ObjectId(), label: 'Ada' }, action: `viewed ${i}` });
      if (i % 2 === 0) {
        let resume!: () => void;
        const gate = new Promise<void>((resolve) => (resume = resolve));
        late.push(resume);
        void gate.then(() => {
          logger.record({ action: 'late_note', note: `late ${i}` });
        });
      }
    });
  }
  await logger.flush();
  for (const resume of late) resume();
  await new Promise((resolve) => setImmediate(resolve));
  await logger.flush();
  // The chain ends with an action's mirror and an activity, each a document of its own.
  await logger.run({ module: 'orders' }, async () => {
    logger.record({ action: 'closing' });
    logger.activity({ user: { lookup_from: 'users', _id: 'u1', label: 'Ada' }, action: 'signed out' });
  });
  await logger.flush();
}

/** A logger that seals what it writes, its anchored checkpoints collected. */
export function sealingLogger(store: Store, key: ReturnType<typeof ed25519>['privateKey'], anchors: CheckpointDocument[] = []) {
  return createActionLogger({
    store,
    onError: (error) => {
      throw error;
    },
    integrity: { key, checkpointEvery: 5, anchor: (checkpoint) => void anchors.push(checkpoint) },
  });
}

/** Every stored entry of a kind, oldest first. */
export async function entriesOf<K extends EntryKind>(store: Store, kind: K): Promise<Array<StoredEntry<K>>> {
  return store.query({ kind, filter: { include_inactive: true }, by: 'time', order: 'asc', limit: 10_000 });
}

/** Every stored entry with its link, in chain order. */
export async function linked(store: Store): Promise<Array<{ kind: EntryKind; stored: StoredEntry; seq: number; chain: string }>> {
  const out: Array<{ kind: EntryKind; stored: StoredEntry; seq: number; chain: string }> = [];
  for (const kind of KINDS) {
    for (const stored of await entriesOf(store, kind)) {
      const entry: Entry & { integrity?: { chain?: string; seq?: number } } = stored.entry;
      const link = entry.integrity;
      if (link?.seq !== undefined && link.chain !== undefined) out.push({ kind, stored, seq: link.seq, chain: link.chain });
    }
  }
  return out.sort((a, b) => a.chain.localeCompare(b.chain) || a.seq - b.seq);
}
