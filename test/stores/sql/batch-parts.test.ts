import { describe, expect, it } from 'vitest';
import type { StoreBatch } from 'actionlog';
import { batchParts } from '../../../src/stores/sql/sql-run.js';
import { batchOf, modelLog, requestDoc } from '../../support/store-contract.js';

const uuidsOf = (batch: StoreBatch) => [
  ...new Set([...batch.requests, ...batch.actionLogs, ...batch.modelLogs].map((doc) => doc.request_uuid)),
];

describe('batchParts (SQLite writes in parts)', () => {
  it('keeps a batch within the size whole', () => {
    const batch = batchOf([requestDoc('a'), requestDoc('b')]);
    expect(batchParts(batch, 200)).toEqual([batch]);
  });

  it('cuts a larger batch in order, each request with all of its logs, whatever their number', () => {
    // 90 requests of 3 documents each (the request and two model-log mirrors), and one with 250 logs.
    const logs = (n: number) => Array.from({ length: n }, (_, i) => modelLog(`m${i}`));
    const docs = Array.from({ length: 90 }, (_, i) =>
      requestDoc(`r${i}`, 0, { details: { ...requestDoc('x').details, model_logs: logs(2) } }),
    );
    docs.splice(45, 0, requestDoc('big', 0, { details: { ...requestDoc('x').details, model_logs: logs(250) } }));
    const batch = batchOf(docs);
    const parts = batchParts(batch, 100);
    const count = (b: StoreBatch) => b.requests.length + b.actionLogs.length + b.modelLogs.length + b.activities.length;
    expect(parts.map(count).reduce((a, b) => a + b)).toBe(count(batch));
    // Every request in exactly one part, with all its mirrors; the order of each list kept.
    for (const part of parts)
      for (const doc of part.modelLogs) expect(part.requests.map((r) => r.request_uuid)).toContain(doc.request_uuid);
    expect(parts.flatMap(uuidsOf)).toEqual(docs.map((d) => d.request_uuid));
    expect(parts.flatMap((p) => p.modelLogs)).toEqual(batch.modelLogs);
    expect(parts.filter((p) => uuidsOf(p).includes('big'))).toHaveLength(1);
    expect(parts.length).toBeGreaterThan(2);
  });

  it('cuts requests that share a request_uuid (a client chooses it) apart, in their order', () => {
    // 300 requests all claiming one id: still parts of about 100, and the requests in the order they came.
    const docs = Array.from({ length: 300 }, (_, i) => requestDoc('same', i));
    const parts = batchParts(batchOf(docs), 100);
    expect(parts.map((p) => p.requests.length)).toEqual([100, 100, 100]);
    expect(parts.flatMap((p) => p.requests)).toEqual(docs);
  });
});
