import { crc32 } from 'node:zlib';
import type { DocumentUnit } from '../document-unit.js';

/** A unit read back from a spool file, with when it was spooled. */
export interface SpooledUnit {
  unit: DocumentUnit;
  /** When it was spooled (ms since the epoch). */
  at: number;
}

const DATE = '$date';
const BYTES = '$bytes';

/**
 * One line: the CRC32 of the JSON (8 hex digits), a space, the JSON, a newline. Dates are tagged `{"$date": iso}`
 * and bytes (attachments) `{"$bytes": base64}`: stored keys never start with `$` (the builder escapes them), so a
 * tag cannot meet a value of the application's.
 */
export function encodeLine(unit: DocumentUnit, at: number): string {
  const json = JSON.stringify({ at, unit }, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return { [DATE]: Number.isNaN(raw.getTime()) ? null : raw.toISOString() };
    if (raw instanceof Uint8Array) return { [BYTES]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
    return value;
  });
  return `${checksum(json)} ${json}\n`;
}

/** The unit of a line (without its newline), or undefined when its checksum does not match (a torn or damaged line). */
export function decodeLine(line: string): SpooledUnit | undefined {
  const json = line.slice(9);
  if (line.length < 10 || line[8] !== ' ' || line.slice(0, 8) !== checksum(json)) return undefined;
  try {
    return JSON.parse(json, (_key, value: unknown) => revive(value)) as SpooledUnit;
  } catch {
    return undefined;
  }
}

function revive(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const tagged = value as Record<string, unknown>;
  if (Object.keys(tagged).length !== 1) return value;
  if (Object.hasOwn(tagged, BYTES)) return Buffer.from(String(tagged[BYTES]), 'base64');
  if (!Object.hasOwn(tagged, DATE)) return value;
  const iso = tagged[DATE];
  return new Date(typeof iso === 'string' ? iso : Number.NaN);
}

function checksum(text: string): string {
  return crc32(text).toString(16).padStart(8, '0');
}
