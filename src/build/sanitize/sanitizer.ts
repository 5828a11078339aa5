import { isPlainObject, setOwn } from '../../shared/plain-objects.js';
import { escapeKey } from './keys.js';
import { type KeyRedactor, REDACTED } from './redactor.js';

export interface SanitizeLimits {
  /** Longest string kept, in characters. */
  maxStringLength: number;
  /** Deepest nesting kept. */
  maxDepth: number;
  /** Longest array kept. */
  maxArrayLength: number;
  /** Largest request body kept, in bytes (estimated from the stored form). */
  maxBodyBytes: number;
}

/** Marker stored in place of a body larger than `maxBodyBytes`. */
export interface TruncatedBody {
  _truncated: true;
  _size_bytes: number;
  _preview: string;
}

export const MAX_DEPTH_MARKER = '[Truncated: max depth]';
export const CIRCULAR_MARKER = '[Circular]';

const PREVIEW_CHARS = 1024;

interface StoredKey {
  stored: string;
  secret: boolean;
}

const KEY_CACHE_LIMIT = 10_000;

interface Walk {
  bytes: number;
  /** Objects being walked, outermost first: a value found here is a cycle. Shallow, so a list beats a Set. */
  ancestors: object[];
  omit: ReadonlySet<string> | undefined;
}

/**
 * Turns any value into a JSON-safe, BSON-safe copy: secrets redacted, unsafe keys escaped,
 * sizes limited, exotic values (BigInt, Buffers, ObjectIds, Decimal128, circular refs) made plain.
 * Dates stay Dates. It never throws.
 */
export class Sanitizer {
  private readonly keys = new Map<string, StoredKey>();

  constructor(
    readonly redactor: KeyRedactor,
    readonly limits: SanitizeLimits,
  ) {}

  /** A sanitized copy of `value`; `omit` lists dotted paths left out entirely. */
  clean(value: unknown, omit?: ReadonlySet<string>): unknown {
    return this.cleanSized(value, omit).value;
  }

  /** Like `clean`, also returning an estimate of the stored size in bytes. */
  cleanSized(value: unknown, omit?: ReadonlySet<string>): { value: unknown; bytes: number } {
    const walk: Walk = { bytes: 0, ancestors: [], omit: omit && omit.size > 0 ? omit : undefined };
    let out: unknown;
    try {
      out = this.walk(value, 0, '', walk);
    } catch {
      out = '[Unserializable]';
    }
    return { value: out, bytes: walk.bytes };
  }

  /** Sanitizes a request body: a body over `maxBodyBytes` is replaced by a marker with a preview. */
  cleanBody(body: unknown): { value: unknown; bytes: number } {
    if (body === undefined || body === null) return { value: null, bytes: 4 };
    if (typeof body === 'string') {
      const value = this.limitString(body, this.limits.maxBodyBytes);
      return { value, bytes: value.length + 2 };
    }
    const sized = this.cleanSized(body);
    if (sized.bytes <= this.limits.maxBodyBytes) return sized;
    let preview: string;
    try {
      preview = JSON.stringify(sized.value).slice(0, PREVIEW_CHARS);
    } catch {
      preview = '';
    }
    const marker: TruncatedBody = { _truncated: true, _size_bytes: sized.bytes, _preview: preview };
    return { value: marker, bytes: preview.length + 80 };
  }

  /** Sanitizes headers: secret header names are redacted whole. */
  cleanHeaders(headers: Record<string, unknown>): { value: Record<string, unknown>; bytes: number } {
    const out: Record<string, unknown> = {};
    let bytes = 2;
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (value === undefined) continue;
      const key = escapeKey(name);
      if (this.redactor.isSecretHeader(name)) {
        out[key] = REDACTED;
        bytes += key.length + REDACTED.length + 6;
      } else if (typeof value === 'string') {
        const v = this.limitString(value, this.limits.maxStringLength);
        out[key] = v;
        bytes += key.length + v.length + 6;
      } else {
        const sized = this.cleanSized(value);
        out[key] = sized.value;
        bytes += key.length + sized.bytes + 4;
      }
    }
    return { value: out, bytes };
  }

  private limitString(s: string, max: number): string {
    if (s.length <= max) return s;
    return `${s.slice(0, max)}…[truncated ${s.length - max} chars]`;
  }

  private walk(value: unknown, depth: number, path: string, w: Walk): unknown {
    switch (typeof value) {
      case 'string': {
        const s = this.limitString(value, this.limits.maxStringLength);
        w.bytes += s.length + 2;
        return s;
      }
      case 'number':
        w.bytes += 8;
        return Number.isFinite(value) ? value : String(value);
      case 'boolean':
        w.bytes += 1;
        return value;
      case 'bigint':
        w.bytes += 8;
        return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
      case 'symbol':
        w.bytes += 8;
        return value.toString();
      case 'undefined':
      case 'function':
        return undefined;
    }
    if (value === null) {
      w.bytes += 1;
      return null;
    }
    return this.walkObject(value as object, depth, path, w);
  }

  private walkObject(value: object, depth: number, path: string, w: Walk, viaJson = false): unknown {
    // Plain objects and arrays are nearly everything stored: test for them first.
    const plain = isPlainObject(value);
    const array = !plain && Array.isArray(value);
    if (!plain && !array) {
      if (value instanceof Date) {
        w.bytes += 8;
        return Number.isNaN(value.getTime()) ? null : new Date(value.getTime());
      }
      const leaf = this.leafOf(value);
      if (leaf !== undefined) return this.walk(leaf, depth, path, w);
    }
    if (depth >= this.limits.maxDepth) {
      w.bytes += MAX_DEPTH_MARKER.length;
      return MAX_DEPTH_MARKER;
    }
    if (w.ancestors.includes(value)) {
      w.bytes += CIRCULAR_MARKER.length;
      return CIRCULAR_MARKER;
    }
    w.ancestors.push(value);
    try {
      if (plain) return this.walkRecord(value, depth, path, w);
      if (array) return this.walkArray(value as unknown[], depth, path, w);
      if (value instanceof Set) return this.walkArray([...value], depth, path, w);
      if (value instanceof Map) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of value) this.put(out, String(k), v, depth, path, w);
        return out;
      }
      if (value instanceof Error) {
        const out: Record<string, unknown> = {};
        this.put(out, 'name', value.name, depth, path, w);
        this.put(out, 'message', value.message, depth, path, w);
        this.put(out, 'code', (value as { code?: unknown }).code, depth, path, w);
        return out;
      }
      if (!viaJson) {
        const json = plainForm(value);
        if (json !== value) {
          return json !== null && typeof json === 'object' ? this.walkObject(json, depth, path, w, true) : this.walk(json, depth, path, w);
        }
      }
      return this.walkRecord(value as Record<string, unknown>, depth, path, w);
    } finally {
      w.ancestors.pop();
    }
  }

  private walkRecord(record: Record<string, unknown>, depth: number, path: string, w: Walk): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(record)) this.put(out, key, record[key], depth, path, w);
    return out;
  }

  private walkArray(items: readonly unknown[], depth: number, path: string, w: Walk): unknown[] {
    const max = this.limits.maxArrayLength;
    const n = Math.min(items.length, max);
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = this.walk(items[i], depth + 1, w.omit ? `${path}${path ? '.' : ''}${i}` : '', w);
      out[i] = v === undefined ? null : v;
      w.bytes += 1;
    }
    if (items.length > max) out.push(`[truncated ${items.length - max} items]`);
    w.bytes += 4;
    return out;
  }

  /** Sanitizes one member into `out`: omitted, redacted, or walked; its key escaped. */
  private put(out: Record<string, unknown>, key: string, v: unknown, depth: number, path: string, w: Walk): void {
    let childPath = '';
    if (w.omit) {
      childPath = path ? `${path}.${key}` : key;
      if (w.omit.has(childPath)) return;
    }
    const { stored, secret } = this.keyOf(key);
    let cleaned: unknown;
    if (secret) {
      if (v === undefined) return;
      cleaned = REDACTED;
      w.bytes += REDACTED.length;
    } else {
      cleaned = this.walk(v, depth + 1, childPath, w);
      if (cleaned === undefined) return;
    }
    w.bytes += stored.length + 4;
    setOwn(out, stored, cleaned);
  }

  /** How a key is stored, and whether its value is a secret; decided once per distinct key. */
  private keyOf(key: string): StoredKey {
    let known = this.keys.get(key);
    if (known === undefined) {
      known = { stored: escapeKey(key), secret: this.redactor.isSecretKey(key) };
      if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.clear();
      this.keys.set(key, known);
    }
    return known;
  }

  /** Objects that stand for one scalar: BSON values, binary data, URLs, regexps. */
  private leafOf(value: object): unknown {
    const bsontype = (value as { _bsontype?: unknown })._bsontype;
    if (typeof bsontype === 'string') {
      const v = value as { toHexString?: () => string; toString: () => string };
      if (bsontype === 'ObjectId' && typeof v.toHexString === 'function') return v.toHexString();
      return v.toString();
    }
    if (ArrayBuffer.isView(value)) {
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return bytes.toString('base64');
    }
    if (value instanceof ArrayBuffer) return Buffer.from(value).toString('base64');
    if (value instanceof RegExp || value instanceof URL) return value.toString();
    return undefined;
  }
}

/** The plain form of a class instance that defines `toJSON` (Mongoose documents, Decimal.js, Luxon...). */
function plainForm(value: object): unknown {
  if (isPlainObject(value)) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') return value;
  try {
    return toJSON.call(value);
  } catch {
    return value;
  }
}
