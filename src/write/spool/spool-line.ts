import { crc32 } from 'node:zlib';
import type { DocumentUnit } from '../document-unit.js';

/** A unit read back from a spool file, with when it was spooled. */
export interface SpooledUnit {
  unit: DocumentUnit;
  /** When it was spooled (ms since the epoch). */
  at: number;
}

type Path = Array<string | number>;

const DATE = '$date';
const BYTES = '$bytes';

/**
 * One line: the CRC32 of the JSON (8 hex digits), a space, the JSON, a newline. A unit without bytes is written by
 * `JSON.stringify` alone (a replacer function costs it several times more), its dates as ISO text listed by path
 * in `dates`. A unit with bytes (attachments) tags its values instead: dates `{"$date": iso}`, bytes
 * `{"$bytes": base64}`; stored keys never start with `$` (the builder escapes them), so a tag cannot meet a value
 * of the application's.
 */
export function encodeLine(unit: DocumentUnit, at: number): string {
  const dates: Path[] = [];
  const json = findDates(unit, ['unit'], dates) ? JSON.stringify({ at, dates, unit }) : JSON.stringify({ at, unit }, tagValues);
  return `${checksum(json)} ${json}\n`;
}

/** The unit of a line (without its newline), or undefined when its checksum does not match (a torn or damaged line). */
export function decodeLine(line: string): SpooledUnit | undefined {
  const json = line.slice(9);
  if (line.length < 10 || line[8] !== ' ' || line.slice(0, 8) !== checksum(json)) return undefined;
  try {
    const parsed = JSON.parse(json) as SpooledUnit & { dates?: Path[] };
    if (!parsed.dates) return revive(parsed) as SpooledUnit;
    for (const path of parsed.dates) reviveDateAt(parsed, path);
    return { at: parsed.at, unit: parsed.unit };
  } catch {
    return undefined;
  }
}

/** Lists the paths of the dates under `value`; false when it holds bytes (which need tags). */
function findDates(value: unknown, path: Path, into: Path[]): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (value instanceof Date) {
    into.push([...path]);
    return true;
  }
  if (ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      const plain = findDates(value[i], path, into);
      path.pop();
      if (!plain) return false;
    }
    return true;
  }
  // Serialized through its own toJSON (an ObjectId becomes its hex text): nothing inside it is written as is.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return true;
  for (const key of Object.keys(value)) {
    path.push(key);
    const plain = findDates((value as Record<string, unknown>)[key], path, into);
    path.pop();
    if (!plain) return false;
  }
  return true;
}

function tagValues(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Date) return { [DATE]: Number.isNaN(raw.getTime()) ? null : raw.toISOString() };
  if (raw instanceof Uint8Array) return { [BYTES]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  return value;
}

function reviveDateAt(root: object, path: Path): void {
  let parent = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const key = path.at(-1) as string | number;
  parent[key] = dateOf(parent[key]);
}

/** A date from its ISO text; an invalid date is written as null. */
const dateOf = (iso: unknown): Date => new Date(typeof iso === 'string' ? iso : Number.NaN);

/** Turns the tags of a tagged line back into dates and bytes, in place. */
function revive(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i]);
    return value;
  }
  const tagged = value as Record<string, unknown>;
  const keys = Object.keys(tagged);
  if (keys.length === 1 && keys[0] === BYTES) return Buffer.from(String(tagged[BYTES]), 'base64');
  if (keys.length === 1 && keys[0] === DATE) return dateOf(tagged[DATE]);
  for (const key of keys) tagged[key] = revive(tagged[key]);
  return tagged;
}

function checksum(text: string): string {
  return crc32(text).toString(16).padStart(8, '0');
}
