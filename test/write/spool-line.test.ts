import { crc32 } from 'node:zlib';
import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { isObjectId } from '../../src/shared/document.js';
import type { DocumentUnit } from '../../src/write/document-unit.js';
import { decodeLine, encodeLine, lineMac } from '../../src/write/spool/spool-line.js';

const at = Date.UTC(2026, 10, 30);
const created = new Date('2026-11-30T01:02:03.456Z');

function unit(extra: Partial<DocumentUnit> = {}): DocumentUnit {
  const request = {
    _id: 'r1',
    created_at: created,
    details: {
      model_logs: [
        { old_object: { due: new Date('2027-01-01T00:00:00.000Z'), tags: ['a', new Date(0)] }, new_object: { due: new Date(Number.NaN) } },
      ],
    },
  };
  return { batch: { requests: [request as never], actionLogs: [], modelLogs: [], activities: [] }, appends: [], attachments: [], ...extra };
}

describe('spool line', () => {
  it('is authentic only with a MAC that holds under the key it is read with; a line without one still reads', () => {
    const mac = lineMac(Buffer.alloc(32, 7));
    const signed = encodeLine(unit(), at, mac).slice(0, -1);
    expect(decodeLine(signed, mac)?.authentic).toBe(true);
    expect(decodeLine(signed, lineMac(Buffer.alloc(32, 8)))?.authentic).toBe(false);
    expect(decodeLine(signed)?.authentic).toBe(false);
    const plain = encodeLine(unit(), at).slice(0, -1);
    expect(decodeLine(plain, mac)).toMatchObject({ at, unit: { appends: [] } });
    expect(decodeLine(plain, mac)?.authentic).toBe(false);
    // Read by an earlier version (its checksum of all the JSON, which it parses): the same unit.
    expect(signed.slice(0, 8)).toBe(crc32(signed.slice(9)).toString(16).padStart(8, '0'));
    expect((JSON.parse(signed.slice(9)) as { at: number }).at).toBe(at);
  });

  it('refuses a line whose typed paths lead outside it, and writes nothing into other objects', () => {
    const forge = (dates: unknown) => {
      const json = JSON.stringify({ at, dates, unit: unit() });
      return `${crc32(json).toString(16).padStart(8, '0')} ${json}`;
    };
    for (const path of [
      ['__proto__', 'polluted'],
      ['unit', '__proto__', 'polluted'],
      ['unit', 'constructor', 'prototype', 'polluted'],
      ['unit', 'nope'],
    ])
      expect(decodeLine(forge([path]))).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('gives back every date where it was, an invalid one as an invalid date', () => {
    const line = encodeLine(unit(), at);
    expect(line.endsWith('\n')).toBe(true);
    const back = decodeLine(line.slice(0, -1));
    expect(back?.at).toBe(at);
    // toEqual tells a date from its ISO text.
    expect(back?.unit).toEqual(unit());
  });

  it('tags a unit holding bytes, and gives the bytes and dates back', () => {
    const bytes = Buffer.from([0, 1, 2, 250]);
    const withBytes = unit({ attachments: [{ _id: 'a1', created_at: created, bytes } as never] });
    const line = encodeLine(withBytes, at);
    expect(line).toContain('"$bytes":"AAEC+g=="');
    const back = decodeLine(line.slice(0, -1));
    expect(back?.unit).toEqual(withBytes);
    expect(Buffer.isBuffer((back?.unit.attachments[0] as unknown as { bytes: Buffer }).bytes)).toBe(true);
  });

  it('gives back an ObjectId as one, of the same hex, in either form of line', () => {
    const id = new ObjectId();
    const user = { lookup_from: 'users', _id: id, label: 'Ada' };
    const plain = unit();
    plain.batch.activities.push({ user, created_at: created } as never);
    const tagged = unit({ attachments: [{ _id: 'a1', bytes: Buffer.from([1]) } as never] });
    tagged.batch.activities.push({ user, created_at: created } as never);
    for (const written of [plain, tagged]) {
      const line = encodeLine(written, at);
      expect(line).toContain(id.toHexString());
      const back = decodeLine(line.slice(0, -1))?.unit.batch.activities[0] as unknown as { user: { _id: unknown }; created_at: Date };
      expect(isObjectId(back.user._id)).toBe(true);
      expect((back.user._id as ObjectId).toHexString()).toBe(id.toHexString());
      expect(JSON.stringify(back.user._id)).toBe(JSON.stringify(id));
      expect(back.created_at).toEqual(created);
    }
  });

  it('reads a line in the tagged form alone, as spools written before the date list hold', () => {
    const json = JSON.stringify({
      at,
      unit: { batch: { requests: [{ _id: 'r1', created_at: { $date: created.toISOString() } }] }, appends: [], attachments: [] },
    });
    const back = decodeLine(`${crc32(json).toString(16).padStart(8, '0')} ${json}`);
    expect(back?.unit.batch.requests[0]).toEqual({ _id: 'r1', created_at: created });
  });

  it('refuses a line whose checksum does not match', () => {
    const line = encodeLine(unit(), at).slice(0, -1);
    expect(decodeLine(line.replace('"r1"', '"r2"'))).toBeUndefined();
    expect(decodeLine(line.slice(0, 40))).toBeUndefined();
  });
});
