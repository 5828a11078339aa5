import { isObjectId } from '../../shared/document.js';
import { isPlainObject } from '../../shared/plain-objects.js';
import { unescapeKey } from '../sanitize/keys.js';

/**
 * Canonical JSON (RFC 8785) of a value's stored form in one walk, without the copy `storedForm` makes: what sealing
 * costs per document. It yields the very text `canonicalize(storedForm(value))` does; a value it does not handle
 * alike (a function or symbol, a lone surrogate, an own `__proto__` among the keys left out) is left to that path.
 */
export function storedJson(value: unknown, leftOut?: readonly string[]): string | undefined {
  try {
    if (leftOut === undefined) return json(value);
    if (value === null || typeof value !== 'object' || Object.hasOwn(value, '__proto__')) return undefined;
    return object(value as Record<string, unknown>, leftOut);
  } catch (error) {
    if (error === UNHANDLED) return undefined;
    throw error;
  }
}

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

/** `"key":` of the keys met so far: stored documents of a kind repeat theirs. Bounded, as keys come from user data. */
const members = new Map<string, string>();

function member(key: string): string {
  let text = members.get(key);
  if (text === undefined) {
    if (members.size >= 4096) members.clear();
    text = quote(key) + ':';
    members.set(key, text);
  }
  return text;
}

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
  const keys = Object.keys(source);
  for (const key of keys) {
    if (key.includes('%')) return escapedObject(source, keys, leftOut);
    if (key === '_bsontype') throw UNHANDLED;
  }
  sortKeys(keys);
  let out = '{';
  for (const key of keys) {
    const item = source[key];
    if (item === null || item === undefined || leftOut?.includes(key)) continue;
    if (out.length > 1) out += ',';
    out += member(key) + json(item);
  }
  return out + '}';
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

/**
 * Sorts keys by UTF-16 code units, as `Array.prototype.sort` does by default: `<` on strings is that order. Objects
 * have a handful of keys, where an insertion sort beats the general one.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}
