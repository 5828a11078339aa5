import { CIRCULAR_MARKER, MAX_DEPTH_MARKER } from '../../shared/copy.js';
import { isPlainObject, setOwn } from '../../shared/plain-objects.js';
import { storable } from '../../shared/strings.js';
import { escapeKey } from './keys.js';
import { type KeyRedactor, REDACTED } from './redactor.js';
import { maskSecretValues } from './secret-values.js';

export interface SanitizeLimits {
  /** Longest string kept, in characters. */
  maxStringLength: number;
  /** Deepest nesting kept. */
  maxDepth: number;
  /** Longest array kept. */
  maxArrayLength: number;
  /** Most keys kept of one object. */
  maxKeys: number;
  /** Largest request body kept, in bytes (estimated from the stored form). */
  maxBodyBytes: number;
}

/** Marker stored in place of a body larger than `maxBodyBytes`. */
export interface TruncatedBody {
  _truncated: true;
  /** The body's size: its `content-length` when given, else what was read before stopping (a lower bound). */
  _size_bytes: number;
  _preview: string;
}

/** The key under which an object cut at `maxKeys` says how many keys were left out. */
export const TRUNCATED_KEYS = '[truncated]';
/** Stands for a member whose read threw. */
export const UNREADABLE = '[Unreadable]';

const PREVIEW_CHARS = 1024;
/** A body whose `content-length` is this many times `maxBodyBytes` is stored as a marker without a preview. */
const HUGE_BODY_FACTOR = 4;
const KEY_CACHE_LIMIT = 10_000;

interface StoredKey {
  stored: string;
  secret: boolean;
}

interface Walk {
  bytes: number;
  /** Objects being walked, outermost first: a value found here is a cycle. Shallow, so a list beats a Set. */
  ancestors: object[];
  omit: ReadonlySet<string> | undefined;
  /** Stop adding members once this many bytes are out (a request body past its limit is only previewed). */
  budget: number;
  /** Look for credentials in string values too (request bodies, written by anyone). */
  scanValues: boolean;
  /** Keys left out wherever they appear (in request bodies: the names of fields omitted from models). */
  dropKeys?: ReadonlySet<string>;
}

/**
 * Turns any value into a JSON-safe, BSON-safe copy that every store accepts: secrets redacted, unsafe keys
 * escaped, strings made storable, sizes limited while walking (so a hostile value costs no more than the limits),
 * exotic values (BigInt, Buffers, ObjectIds, Decimal128, circular refs) made plain. Dates stay Dates. It never throws.
 */
export class Sanitizer {
  private readonly keys = new Map<string, StoredKey>();

  /** Names of model fields left out of model logs (`omit`), left out of request bodies too. */
  private readonly bodyOmits = new Set<string>();

  constructor(
    readonly redactor: KeyRedactor,
    readonly limits: SanitizeLimits,
  ) {}

  /** Leaves keys of these names out of every request body from now on (form fields too). */
  omitFromBodies(names: Iterable<string>): void {
    for (const name of names) this.bodyOmits.add(name);
  }

  /** A sanitized copy of `value`; `omit` lists dotted paths left out entirely. */
  clean(value: unknown, omit?: ReadonlySet<string>): unknown {
    return this.cleanSized(value, omit).value;
  }

  /** Like `clean`, also returning an estimate of the stored size in bytes. */
  cleanSized(value: unknown, omit?: ReadonlySet<string>): { value: unknown; bytes: number } {
    return this.run(value, {
      bytes: 0,
      ancestors: [],
      omit: omit && omit.size > 0 ? omit : undefined,
      budget: Infinity,
      scanValues: false,
    });
  }

  /** A `clean` whose calls share one budget of bytes: what they walk past it is cut, with the limits' markers. */
  cleanerWithin(budget: number): <T>(value: T) => T {
    const walk: Walk = { bytes: 0, ancestors: [], omit: undefined, budget, scanValues: false };
    return <T>(value: T) => this.run(value, walk).value as T;
  }

  /** A string field as stored: storable, limited to `maxStringLength`. */
  cleanString(value: string): string {
    return storable(this.limitString(value, this.limits.maxStringLength));
  }

  /**
   * Sanitizes a request body. Walking stops at `maxBodyBytes`: a larger body is replaced by a marker with a preview.
   * A string body (text, a form, JSON the app did not parse) goes through the same rules as parsed ones.
   */
  cleanBody(body: unknown, contentType = '', declaredBytes?: number): { value: unknown; bytes: number } {
    if (body === undefined || body === null) return { value: null, bytes: 4 };
    if (typeof body === 'string') return this.cleanTextBody(body, contentType, declaredBytes);
    // Far past the limit by its own `content-length`: not walked at all (listing the keys of a parsed object costs
    // as much as the object is big), so a hostile body costs no more than a small one.
    if (declaredBytes !== undefined && declaredBytes > this.limits.maxBodyBytes * HUGE_BODY_FACTOR) {
      const marker: TruncatedBody = { _truncated: true, _size_bytes: declaredBytes, _preview: '' };
      return { value: marker, bytes: 80 };
    }
    const walk: Walk = {
      bytes: 0,
      ancestors: [],
      omit: undefined,
      budget: this.limits.maxBodyBytes,
      scanValues: true,
      dropKeys: this.bodyOmits.size > 0 ? this.bodyOmits : undefined,
    };
    const sized = this.run(body, walk);
    if (walk.bytes <= this.limits.maxBodyBytes) return sized;
    let preview: string;
    try {
      preview = JSON.stringify(sized.value).slice(0, PREVIEW_CHARS);
    } catch {
      preview = '';
    }
    const marker: TruncatedBody = { _truncated: true, _size_bytes: declaredBytes ?? walk.bytes, _preview: preview };
    return { value: marker, bytes: preview.length + 80 };
  }

  /** Sanitizes headers: secret header names are redacted whole, credentials after a scheme (`Bearer ...`) in any header. */
  cleanHeaders(headers: Record<string, unknown>): { value: Record<string, unknown>; bytes: number } {
    const out: Record<string, unknown> = {};
    let bytes = 2;
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (value === undefined) continue;
      const key = this.keyOf(name).stored;
      if (this.redactor.isSecretHeader(name)) {
        out[key] = REDACTED;
        bytes += key.length + REDACTED.length + 6;
      } else if (typeof value === 'string') {
        const v = maskSecretValues(this.cleanString(value));
        out[key] = v;
        bytes += key.length + v.length + 6;
      } else {
        const sized = this.run(value, { bytes: 0, ancestors: [], omit: undefined, budget: Infinity, scanValues: true });
        out[key] = sized.value;
        bytes += key.length + sized.bytes + 4;
      }
    }
    return { value: out, bytes };
  }

  private run(value: unknown, walk: Walk): { value: unknown; bytes: number } {
    let out: unknown;
    try {
      out = this.walk(value, 0, '', walk);
    } catch {
      out = '[Unserializable]';
    }
    return { value: out, bytes: walk.bytes };
  }

  /** A form body has its secret fields redacted; a JSON one is sanitized as parsed; other text has credentials masked. */
  private cleanTextBody(body: string, contentType: string, declaredBytes: number | undefined): { value: unknown; bytes: number } {
    const max = this.limits.maxBodyBytes;
    if (/json/i.test(contentType) || /^\s*[[{]/.test(body)) {
      if (body.length <= max) {
        try {
          return this.cleanBody(JSON.parse(body) as unknown, '', declaredBytes ?? body.length);
        } catch {
          // Not JSON after all: kept as text.
        }
      }
    }
    const head = body.length > max ? body.slice(0, max) : body;
    const form = /x-www-form-urlencoded/i.test(contentType) || /^[\w.[\]%+-]+=[^\s&]*(?:&[\w.[\]%+-]+=[^\s&]*)*$/.test(head);
    const cleaned = form ? this.cleanForm(head) : maskSecretValues(head);
    const value = storable(body.length > max ? `${cleaned}…[truncated ${body.length - max} chars]` : cleaned);
    return { value, bytes: value.length + 2 };
  }

  private cleanForm(form: string): string {
    return form
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq === -1) return pair;
        let key = pair.slice(0, eq);
        try {
          key = decodeURIComponent(key.replace(/\+/g, ' '));
        } catch {
          // Kept as sent.
        }
        if (this.bodyOmits.has(key)) return undefined;
        return this.redactor.isSecretQueryKey(key) ? `${pair.slice(0, eq)}=${REDACTED}` : maskSecretValues(pair);
      })
      .filter((pair) => pair !== undefined)
      .join('&');
  }

  private limitString(s: string, max: number): string {
    if (s.length <= max) return s;
    return `${s.slice(0, max)}…[truncated ${s.length - max} chars]`;
  }

  private walk(value: unknown, depth: number, path: string, w: Walk): unknown {
    switch (typeof value) {
      case 'string': {
        let s = this.cleanString(value);
        if (w.scanValues) s = maskSecretValues(s);
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
        return this.cleanString(value.toString());
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
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        const encoded = this.binary(
          ArrayBuffer.isView(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(value),
        );
        w.bytes += encoded.length + 2;
        return encoded;
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
      if (array) return this.walkList(value as unknown[], (value as unknown[]).length, depth, path, w);
      if (value instanceof Set) return this.walkList(value, value.size, depth, path, w);
      if (value instanceof Map) return this.walkEntries(value.entries(), value.size, depth, path, w);
      if (value instanceof Error) {
        // An error's `code` is its kind (ECONNRESET, 11000), not a one-time code.
        const out: Record<string, unknown> = {
          name: this.walk(value.name, depth + 1, path, w),
          message: this.walk(value.message, depth + 1, path, w),
        };
        const code = this.walk((value as { code?: unknown }).code, depth + 1, path, w);
        if (code !== undefined) out.code = code;
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

  /** Walks own keys up to `maxKeys`; the rest are only counted (one enumeration: V8 lists an object's keys whole). */
  private walkRecord(record: Record<string, unknown>, depth: number, path: string, w: Walk): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const max = this.limits.maxKeys;
    let seen = 0;
    let left = 0;
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      if (seen >= max || w.bytes > w.budget) {
        left++;
        continue;
      }
      seen++;
      let v: unknown;
      try {
        v = record[key];
      } catch {
        // A getter that throws (a class's accessor, a proxy): the member is kept, saying so; the rest is read.
        v = UNREADABLE;
      }
      this.put(out, key, v, depth, path, w);
    }
    if (left > 0) out[TRUNCATED_KEYS] = `[${left} more keys]`;
    return out;
  }

  private walkEntries(entries: Iterable<[unknown, unknown]>, size: number, depth: number, path: string, w: Walk): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let seen = 0;
    for (const [key, value] of entries) {
      if (seen >= this.limits.maxKeys || w.bytes > w.budget) {
        out[TRUNCATED_KEYS] = `[${size - seen} more keys]`;
        break;
      }
      seen++;
      this.put(out, String(key), value, depth, path, w);
    }
    return out;
  }

  private walkList(items: Iterable<unknown>, length: number, depth: number, path: string, w: Walk): unknown[] {
    const kept = Math.min(length, this.limits.maxArrayLength);
    // Sized up front: an array grown by push keeps room for 16 more, ~130 bytes a short list holds for as long as
    // its document waits in memory.
    const out = new Array<unknown>(kept);
    let i = 0;
    for (const item of items) {
      if (i >= kept || w.bytes > w.budget) break;
      const v = this.walk(item, depth + 1, w.omit ? `${path}${path ? '.' : ''}${i}` : '', w);
      out[i++] = v === undefined ? null : v;
      w.bytes += 1;
    }
    if (i < kept) out.length = i;
    if (length > i) out.push(`[truncated ${length - i} items]`);
    w.bytes += 4;
    return out;
  }

  /** Sanitizes one member into `out`: omitted, redacted, or walked; its key escaped. */
  private put(out: Record<string, unknown>, key: string, v: unknown, depth: number, path: string, w: Walk): void {
    if (w.dropKeys?.has(key)) return;
    let childPath = '';
    if (w.omit) {
      childPath = path ? `${path}.${key}` : key;
      if (w.omit.has(childPath)) return;
    }
    const { stored, secret } = this.keyOf(key);
    let cleaned: unknown;
    // Under a secret key, only a value that says nothing stays: null, or a flag (`password_set: true`).
    if (secret && v !== null && typeof v !== 'boolean') {
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

  /** How a key is stored (storable, escaped, limited), and whether its value is a secret; decided once per distinct key. */
  private keyOf(key: string): StoredKey {
    let known = this.keys.get(key);
    if (known === undefined) {
      known = { stored: escapeKey(this.cleanString(key)), secret: this.redactor.isSecretKey(key) };
      if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.clear();
      this.keys.set(key, known);
    }
    return known;
  }

  /** Objects that stand for one scalar: BSON values, URLs, regexps. */
  private leafOf(value: object): unknown {
    const bsontype = (value as { _bsontype?: unknown })._bsontype;
    if (typeof bsontype === 'string') {
      const v = value as { toHexString?: () => string; toString: () => string };
      if (bsontype === 'ObjectId' && typeof v.toHexString === 'function') return v.toHexString();
      return v.toString();
    }
    if (value instanceof RegExp || value instanceof URL) return value.toString();
    return undefined;
  }

  /** Base64 of binary data, encoding no more than the string limit keeps. */
  private binary(bytes: Buffer): string {
    const fits = Math.floor((this.limits.maxStringLength / 4) * 3);
    if (bytes.length <= fits) return bytes.toString('base64');
    return `${bytes.subarray(0, fits).toString('base64')}…[truncated ${bytes.length - fits} bytes]`;
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
