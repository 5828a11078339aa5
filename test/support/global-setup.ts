import type { TestProject } from 'vitest/node';
import { type MongoKind, startMongo } from '../../examples/shared/databases/mongodb.js';
import { startPostgres } from '../../examples/shared/databases/postgres.js';
import { ensureBuilt } from './built-package.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    mongoKind: MongoKind;
    pgUrl: string;
  }
}

/**
 * One MongoDB and one PostgreSQL for the whole run; every suite uses databases of its own on them (PostgreSQL's
 * without flushes to disk: most of the suite's time on it went to fsync). And the built package, for the suites
 * that test it as users get it.
 */
export default async function setup(project: TestProject) {
  ensureBuilt();
  const [mongo, postgres] = await Promise.all([startMongo(), startPostgres({ durable: false })]);
  console.log(`[actionlog tests] MongoDB: ${mongo.description}`);
  console.log(`[actionlog tests] PostgreSQL: ${postgres.description}`);
  project.provide('mongoUri', mongo.uri);
  project.provide('mongoKind', mongo.kind);
  project.provide('pgUrl', postgres.url);
  return async () => {
    await Promise.all([mongo.stop(), postgres.stop()]);
  };
}
