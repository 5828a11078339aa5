import { type Connection, Schema } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionLogPlugin } from 'actionlog/mongoose';
import { useMongooseConnection } from '../../support/mongo-db.js';
import { exactLogger, expectExact, storedDocuments } from '../../support/mongoose-exact.js';

// Alone in its file: this copy of actionlog sees no document loaded before the test, as in a process whose first
// write of a document is its creation.
const { logger, errors, logsOf } = exactLogger();
const connect = useMongooseConnection();
let conn: Connection;

const notes = new Schema({ title: String, meta: Schema.Types.Mixed, at: Date }).plugin(actionLogPlugin(logger));

beforeAll(async () => {
  conn = await connect();
});
afterAll(async () => {
  await logger.close();
});

describe('a document created and saved before any document is loaded', () => {
  it('changed in place twice, marked modified each time, then saved: its old state is the stored one', async () => {
    const Note = conn.model('SavedBeforeLoad', notes);
    const doc = await Note.create({ title: 't', meta: { a: 0 }, at: '2020-01-01T00:00:00Z' });
    const before = await storedDocuments(Note);
    const logs = await logsOf(async () => {
      (doc.meta as { a: number }).a = 1;
      doc.markModified('meta');
      (doc.meta as { a: number }).a = 2;
      doc.markModified('meta');
      doc.at!.setUTCFullYear(2021);
      doc.markModified('at');
      doc.at!.setUTCFullYear(2022);
      doc.markModified('at');
      await doc.save();
    });
    expectExact(before, logs, await storedDocuments(Note), errors);
    expect(logs.map((l) => [l.action, l.model_details.old_object?.meta, l.model_details.new_object?.meta])).toEqual([
      ['Updated', { a: 0 }, { a: 2 }],
    ]);
  });
});
