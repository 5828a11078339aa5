/** Header names always redacted (matched whole, case-insensitive). */
export const DEFAULT_REDACT_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
]);

/**
 * Key fragments redacted in headers, bodies, query strings and stored objects, at any depth.
 * Matching ignores case, `_` and `-`; fragments of three letters or fewer (`cvv`, `ssn`) must be a whole
 * word of the key (`user_ssn`, `ssnLast4`), so `className` is not mistaken for an SSN.
 */
export const DEFAULT_REDACT_KEYS: readonly string[] = Object.freeze([
  'password',
  'passwd',
  'secret',
  'token',
  'api_key',
  'apikey',
  'credit_card',
  'card_number',
  'cvv',
  'ssn',
]);

export const REDACTED = '[REDACTED]';

const CACHE_LIMIT = 10_000;

function normalize(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Decides which keys hold secrets. Built once per logger; answers are cached per key. */
export class KeyRedactor {
  private readonly fragments: string[];
  private readonly wholeWords: Set<string>;
  private readonly headers: Set<string>;
  private readonly cache = new Map<string, boolean>();

  constructor(keys: readonly string[], headers: readonly string[]) {
    const normalized = [...new Set(keys.map(normalize).filter(Boolean))];
    this.fragments = normalized.filter((k) => k.length > 3);
    this.wholeWords = new Set(normalized.filter((k) => k.length <= 3));
    this.headers = new Set(headers.map((h) => h.toLowerCase()));
  }

  isSecretKey(key: string): boolean {
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = this.match(key);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, hit);
    }
    return hit;
  }

  isSecretHeader(name: string): boolean {
    return this.headers.has(name.toLowerCase()) || this.isSecretKey(name);
  }

  private match(key: string): boolean {
    const flat = normalize(key);
    for (const fragment of this.fragments) if (flat.includes(fragment)) return true;
    if (this.wholeWords.size > 0) for (const word of words(key)) if (this.wholeWords.has(word)) return true;
    return false;
  }
}
