import { readFileSync } from 'node:fs';
import { type Connection, Schema } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionLogPlugin } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { exactLogger, expectExact, storedDocuments } from '../../support/mongoose-exact.js';
import {
  A,
  B,
  C,
  type Item,
  itemSchema,
  type ItemModel,
  OWNER,
  type Owner,
  seedDocuments,
  WRITE_CALLS,
  type WriteCall,
} from '../../support/mongoose-write-calls.js';

// Every call and option combination of the README's table, in both modes of the plugin, against the same call on
// a model without it: the database ends the same, the caller gets the same answer, and the logs replayed onto the
// documents before the call give exactly the documents after it.
const { logger, errors, logsOf } = exactLogger();
const connect = useMongooseConnection();
let conn: Connection;
let models: Record<'findAndModify' | 'readBefore' | 'unaudited', ItemModel>;

beforeAll(async () => {
  conn = await connect();
  const owners = conn.model<Owner>('TableOwner', new Schema<Owner>({ name: String }));
  await owners.create({ _id: OWNER, name: 'Ada' });
  models = {
    findAndModify: conn.model<Item, ItemModel>('TableItemFam', itemSchema().plugin(actionLogPlugin(logger))),
    readBefore: conn.model<Item, ItemModel>(
      'TableItemRead',
      itemSchema().plugin(actionLogPlugin(logger, { singleDocumentWrites: 'readBefore' })),
    ),
    unaudited: conn.model<Item, ItemModel>('TableItemPlain', itemSchema()),
  };
  await Promise.all(Object.values(models).map((M) => M.init()));
});
afterAll(async () => {
  await logger.close();
});

type Settled = { value: unknown } | { error: unknown };

const settle = (p: Promise<unknown>): Promise<Settled> =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

async function seeded(M: ItemModel, call: WriteCall): Promise<void> {
  await M.collection.deleteMany({});
  await M.collection.insertMany(seedDocuments());
  await call.setup?.(M);
}

const SEEDED = new Set([A, B, C, OWNER].map(String));

/** A value both models answer alike: documents as objects, errors by name and code, new ids masked. */
function comparable(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  if (value instanceof Error) return { error: value.name, code: (value as { code?: unknown }).code };
  const v = value as { _bsontype?: string; toObject?: () => unknown; toHexString?: () => string };
  if (v._bsontype === 'ObjectId' && v.toHexString) return SEEDED.has(v.toHexString()) ? v.toHexString() : 'a new id';
  if (typeof v.toObject === 'function') return comparable(v.toObject());
  if (Array.isArray(value)) return value.map(comparable);
  return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, comparable(x)]));
}

describe.each(['findAndModify', 'readBefore'] as const)('mongoose plugin (%s): every write call and option', (mode) => {
  it.each(WRITE_CALLS.map((call) => [`${call.call} ${call.options}`.trim(), call] as const))('%s', async (_name, call) => {
    const plain = models.unaudited;
    await seeded(plain, call);
    const expected = await settle(call.run(plain));
    const expectedStored = await plain.collection.find({}).toArray();

    const M = models[mode];
    await seeded(M, call);
    errors.length = 0;
    const before = await storedDocuments(M);
    let answered: Settled | undefined;
    const logs = await logsOf(async () => {
      answered = await settle(call.run(M));
    });
    const after = await storedDocuments(M);

    expectExact(before, logs, after, errors);
    expect(comparable(answered)).toEqual(comparable(expected));
    expect(comparable(await M.collection.find({}).toArray())).toEqual(comparable(expectedStored));
  });
});

it("is the table of the README's Mongoose section, row for row", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Mongoose'), readme.indexOf('### Inline stamps'));
  const rows = section.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| operation'));
  // The last rows (the summary past maxDocumentsPerQuery, unacknowledged writes) are tested in plugin.test.ts.
  expect(rows.slice(0, WRITE_CALLS.length)).toEqual(WRITE_CALLS.map((c) => `| ${c.call} | ${c.options || '—'} | ${c.recorded} |`));
  expect(rows).toHaveLength(WRITE_CALLS.length + 2);
});
