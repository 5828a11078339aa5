import { isObjectId } from '../../shared/document.js';
import { isPlainObject } from '../../shared/plain-objects.js';
import { unescapeKey } from '../sanitize/keys.js';
import { keyListOf, sortKeys } from './key-lists.js';

/**
 * Canonical JSON (RFC 8785) of a value's stored form in one walk, without the copy `storedForm` makes: what sealing
 * costs per document. It yields the very text `canonicalize(storedForm(value))` does; a value it does not handle
 * alike (a function or symbol, a lone surrogate, an own `__proto__` among the keys left out) is left to that path.
 * `texts` keeps the text of each plain object below the top one, for the next calls that meet the same object (a
 * model log is in its request document and in its own entry): only for values not changed between those calls.
 */
export function storedJson(value: unknown, leftOut?: readonly string[], texts?: Map<object, string>): string | undefined {
  known = texts;
  try {
    if (leftOut === undefined) return json(value);
    if (value === null || typeof value !== 'object' || Object.hasOwn(value, '__proto__')) return undefined;
    return object(value as Record<string, unknown>, leftOut);
  } catch (error) {
    if (error === UNHANDLED) return undefined;
    throw error;
  } finally {
    known = undefined;
  }
}

/** The `texts` of the call under way. */
let known: Map<object, string> | undefined;

/** A class instance as its JSON (`toJSON`), or its own enumerable properties: how `storedForm` reads one. */
export function plain(value: object): Record<string, unknown> {
  const json = (value as { toJSON?: () => unknown }).toJSON?.();
  if (json !== undefined && json !== value) {
    return isPlainObject(json) ? json : { value: json };
  }
  return Object.assign({}, value) as Record<string, unknown>;
}

/** Thrown inside the walk for a value left to the general path; made once, so throwing it costs no stack trace. */
const UNHANDLED = new Error('a value left to the general canonical path');

/** `String.prototype.isWellFormed` (Node 20+), which this project's TypeScript library does not declare yet. */
type Checkable = string & { isWellFormed(): boolean };

/** A string as JSON text; RFC 8785 refuses a lone surrogate (a pair is checked, then written as it is). */
function quote(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // What JSON.stringify escapes (controls, `"`, `\`), and surrogates.
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) {
      if (!(text as Checkable).isWellFormed()) throw UNHANDLED;
      return JSON.stringify(text);
    }
  }
  return `"${text}"`;
}

const member = (key: string) => quote(key) + ':';

/**
 * The checks `storedForm` makes, a plain object first: one is ObjectId-like only through an own `_bsontype` (and a
 * function, itself left to the general path), which `object` leaves to the general path too.
 */
function json(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      // For a finite number, JSON.stringify and String give the same text (Number::toString).
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `"${value.toString()}"`;
    case 'undefined':
      return 'null';
    case 'object':
      if (value === null) return 'null';
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'null' : text(value.toISOString());
      if (isPlainObject(value)) return object(value);
      if (isObjectId(value)) return text(value.toHexString());
      if (Array.isArray(value)) return array(value);
      return object(plain(value));
    default:
      throw UNHANDLED;
  }
}

/** What a method returned, where `storedForm` takes it as it is: only text is written here. */
function text(value: unknown): string {
  if (typeof value !== 'string') throw UNHANDLED;
  return quote(value);
}

function array(items: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    out += json(items[i]);
  }
  return out + ']';
}

/** Members sorted by UTF-16 code units, null and undefined ones left out, as `storedForm` then RFC 8785 do. */
function object(source: Record<string, unknown>, leftOut?: readonly string[]): string {
  const memo = leftOut === undefined ? known : undefined;
  const text = memo?.get(source);
  if (text !== undefined) return text;
  const keys = Object.keys(source);
  const list = keyListOf(keys, member);
  if (list.bsonType) throw UNHANDLED;
  if (list.escaped) return escapedObject(source, keys, leftOut);
  const { sorted, members } = list;
  let out = '{';
  for (let i = 0; i < sorted.length; i++) {
    const key = sorted[i] as string;
    const item = source[key];
    if (item === null || item === undefined || leftOut?.includes(key)) continue;
    if (out.length > 1) out += ',';
    out += (members[i] as string) + json(item);
  }
  out += '}';
  memo?.set(source, out);
  return out;
}

/** An object with escaped keys: decoded first, the last of two keys that decode alike winning, as in `storedForm`. */
function escapedObject(source: Record<string, unknown>, keys: string[], leftOut?: readonly string[]): string {
  const decoded = new Map<string, unknown>();
  for (const key of keys) {
    if (key === '_bsontype') throw UNHANDLED;
    const item = source[key];
    if (item === null || item === undefined || leftOut?.includes(key)) continue;
    decoded.set(unescapeKey(key), item);
  }
  let out = '{';
  for (const key of sortKeys([...decoded.keys()])) {
    if (out.length > 1) out += ',';
    out += member(key) + json(decoded.get(key));
  }
  return out + '}';
}
