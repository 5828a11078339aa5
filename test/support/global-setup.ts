import type { TestProject } from 'vitest/node';
import { type MongoKind, startMongo } from './mongodb.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    mongoKind: MongoKind;
  }
}

/** One MongoDB for the whole run; every suite uses a database of its own on it. */
export default async function setup(project: TestProject) {
  const mongo = await startMongo();
  console.log(`[actionlog tests] MongoDB: ${mongo.description}`);
  project.provide('mongoUri', mongo.uri);
  project.provide('mongoKind', mongo.kind);
  return () => mongo.stop();
}
