import { MongoWireServer } from './mongo-wire/server.js';

export type MongoKind = 'external' | 'memory-server' | 'wire';

export interface MongoTarget {
  kind: MongoKind;
  uri: string;
  /** What ran, for the test output. */
  description: string;
  stop(): Promise<void>;
}

const KINDS: MongoKind[] = ['external', 'memory-server', 'wire'];

/**
 * Gives the test run a MongoDB, in this order: `MONGODB_URI`; mongodb-memory-server (a one-member replica
 * set, so transactions work) when a `mongod` binary is on the machine or its download host answers; else the
 * in-repo wire-protocol server. `ACTIONLOG_TEST_MONGO=external|memory-server|wire` forces one.
 */
export async function startMongo(): Promise<MongoTarget> {
  const forced = process.env.ACTIONLOG_TEST_MONGO as MongoKind | undefined;
  if (forced && !KINDS.includes(forced)) throw new Error(`ACTIONLOG_TEST_MONGO must be one of ${KINDS.join(', ')}`);
  if (forced === 'external' || (!forced && process.env.MONGODB_URI)) {
    const uri = process.env.MONGODB_URI;
    if (!uri) throw new Error('ACTIONLOG_TEST_MONGO=external needs MONGODB_URI');
    return { kind: 'external', uri, description: `MONGODB_URI (${redact(uri)})`, stop: async () => {} };
  }
  if (forced === 'memory-server' || (!forced && (await memoryServerAvailable()))) {
    const { MongoMemoryReplSet } = await import('mongodb-memory-server-core');
    const replSet = await MongoMemoryReplSet.create({ replSet: { count: 1, storageEngine: 'wiredTiger' } });
    const version = replSet.servers[0]?.opts.binary?.version ?? 'default version';
    return {
      kind: 'memory-server',
      uri: replSet.getUri(),
      description: `mongodb-memory-server replica set (mongod ${version})`,
      stop: async () => {
        await replSet.stop();
      },
    };
  }
  const server = new MongoWireServer();
  const uri = await server.start();
  return {
    kind: 'wire',
    uri,
    description: `the in-repo wire-protocol test server at ${server.address} (no mongod on this machine)`,
    stop: () => server.stop(),
  };
}

/** A `mongod` binary is present (MONGOMS_SYSTEM_BINARY or the download cache), or its download host answers. */
async function memoryServerAvailable(): Promise<boolean> {
  try {
    const { DryMongoBinary } = await import('mongodb-memory-server-core');
    const options = await DryMongoBinary.generateOptions();
    if (await DryMongoBinary.locateBinary(options)) return true;
    const { MongoBinaryDownloadUrl } = await import('mongodb-memory-server-core/lib/util/MongoBinaryDownloadUrl.js');
    const url = await new MongoBinaryDownloadUrl(options).getDownloadUrl();
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

function redact(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, '//***@');
}
