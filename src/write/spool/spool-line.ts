import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { isObjectId } from '../../shared/document.js';
import { learnObjectIdClass, RevivedObjectId } from '../../shared/object-id.js';
import { sameSecret } from '../../shared/strings.js';
import type { DocumentUnit } from '../document-unit.js';

/** A unit read back from a spool file, with when it was spooled. */
export interface SpooledUnit {
  unit: DocumentUnit;
  /** When it was spooled (ms since the epoch). */
  at: number;
  /** Its line's MAC holds under the key it was read with: a logger with that key wrote it. */
  authentic: boolean;
}

/** The MAC of a line's JSON, with the key of the logger's `integrity` (`ResolvedKey.lineKey`). */
export interface LineMac {
  of(json: string): string;
  holds(json: string, mac: string): boolean;
}

/** HMAC-SHA-256 of lines with `key`, base64. */
export function lineMac(key: Buffer): LineMac {
  const of = (json: string) => createHmac('sha256', key).update(json).digest('base64');
  return { of, holds: (json, mac) => sameSecret(of(json), mac) };
}

/** How a line's JSON ends with its MAC: a last member, which a reader of an earlier version passes over. */
const MAC_MEMBER = ',"mac":"';

type Path = Array<string | number>;

const DATE = '$date';
const BYTES = '$bytes';
const OID = '$oid';

/** Where a line's dates and ObjectIds are, by path from its root. */
interface TypedPaths {
  dates: Path[];
  oids: Path[];
}

/**
 * One line: the CRC32 of the JSON (8 hex digits), a space, the JSON, a newline. A unit without bytes is written by
 * `JSON.stringify` alone (a replacer function costs it several times more), its dates as ISO text listed by path
 * in `dates`, its ObjectIds (user ids) as hex listed in `oids`. A unit with bytes (attachments) tags its values
 * instead: dates `{"$date": iso}`, ObjectIds `{"$oid": hex}`, bytes `{"$bytes": base64}`; stored keys never start
 * with `$` (the builder escapes them), so a tag cannot meet a value of the application's.
 */
export function encodeLine(unit: DocumentUnit, at: number, mac?: LineMac): string {
  const typed: TypedPaths = { dates: [], oids: [] };
  let json: string;
  if (!findTyped(unit, ['unit'], typed)) json = JSON.stringify({ at, unit }, tagValues);
  else if (typed.oids.length === 0) json = JSON.stringify({ at, dates: typed.dates, unit });
  else json = JSON.stringify({ at, dates: typed.dates, oids: typed.oids, unit });
  if (mac) json = `${json.slice(0, -1)}${MAC_MEMBER}${mac.of(json)}"}`;
  return `${checksum(json)} ${json}\n`;
}

/**
 * The unit of a line (without its newline), or undefined when its checksum does not match or it does not decode (a
 * torn or damaged line); `authentic` when its MAC holds under `mac`.
 */
export function decodeLine(line: string, mac?: LineMac): SpooledUnit | undefined {
  const json = line.slice(9);
  if (line.length < 10 || line[8] !== ' ' || line.slice(0, 8) !== checksum(json)) return undefined;
  try {
    const parsed = JSON.parse(json) as Pick<SpooledUnit, 'at' | 'unit'> & Partial<TypedPaths> & { mac?: unknown };
    const authentic = mac !== undefined && typeof parsed.mac === 'string' && mac.holds(macedPart(json), parsed.mac);
    if (!parsed.dates) revive(parsed);
    else {
      for (const path of parsed.dates) reviveAt(parsed, path, dateOf);
      for (const path of parsed.oids ?? []) reviveAt(parsed, path, objectIdOf);
    }
    return { at: parsed.at, unit: parsed.unit, authentic };
  } catch {
    return undefined;
  }
}

/** The JSON a line's MAC is of: the line's, less its last member `mac`. */
function macedPart(json: string): string {
  const at = json.lastIndexOf(MAC_MEMBER);
  return at === -1 ? json : `${json.slice(0, at)}}`;
}

/** Lists the paths of the dates and ObjectIds under `value`; false when it holds bytes (which need tags). */
function findTyped(value: unknown, path: Path, into: TypedPaths): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (value instanceof Date) {
    into.dates.push([...path]);
    return true;
  }
  if (isObjectId(value)) {
    // The application's driver class: this process then writes the ids it reads back as that class.
    learnObjectIdClass(value);
    into.oids.push([...path]);
    return true;
  }
  if (ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      const plain = findTyped(value[i], path, into);
      path.pop();
      if (!plain) return false;
    }
    return true;
  }
  // Serialized through its own toJSON (a Decimal128 becomes its text): nothing inside it is written as is.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return true;
  for (const key of Object.keys(value)) {
    path.push(key);
    const plain = findTyped((value as Record<string, unknown>)[key], path, into);
    path.pop();
    if (!plain) return false;
  }
  return true;
}

function tagValues(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Date) return { [DATE]: Number.isNaN(raw.getTime()) ? null : raw.toISOString() };
  if (isObjectId(raw)) return { [OID]: raw.toHexString() };
  if (raw instanceof Uint8Array) return { [BYTES]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  return value;
}

/**
 * Replaces the value at `path` (the line's own list) by `of` of it. A path must lead through the line's own members:
 * one naming `__proto__` or an inherited member (a forged line) would write into every object of the process.
 */
function reviveAt(root: object, path: Path, of: (text: unknown) => unknown): void {
  let parent: unknown = root;
  for (const [i, key] of path.entries()) {
    if (!isOwnPlainMember(parent, key)) throw new Error('a path of the line leads outside it');
    if (i === path.length - 1) parent[key] = of(parent[key]);
    else parent = parent[key];
  }
}

function isOwnPlainMember(parent: unknown, key: unknown): parent is Record<string | number, unknown> & object {
  if (parent === null || typeof parent !== 'object') return false;
  if (typeof key === 'number') return Array.isArray(parent) && Number.isInteger(key) && key >= 0 && key < parent.length;
  // An own `constructor` is a record's field like any; `__proto__` is never a stored key (the builder escapes it).
  return typeof key === 'string' && key !== '__proto__' && Object.hasOwn(parent, key);
}

/** A date from its ISO text; an invalid date is written as null. */
const dateOf = (iso: unknown): Date => new Date(typeof iso === 'string' ? iso : Number.NaN);

const objectIdOf = (hex: unknown): RevivedObjectId => new RevivedObjectId(String(hex));

/** Turns the tags of a tagged line back into dates, ObjectIds and bytes, in place. */
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
  if (keys.length === 1 && keys[0] === OID) return objectIdOf(tagged[OID]);
  for (const key of keys) tagged[key] = revive(tagged[key]);
  return tagged;
}

function checksum(text: string): string {
  return crc32(text).toString(16).padStart(8, '0');
}
