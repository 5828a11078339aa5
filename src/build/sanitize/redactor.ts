/**
 * Header names always redacted whole (case-insensitive). Header names also go through the key rules below, so
 * `X-Access-Key` or `X-Goog-Api-Key` are caught without being listed.
 */
export const DEFAULT_REDACT_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-forwarded-authorization',
  'authentication',
  'x-amz-security-token',
  'x-csrf-token',
  'x-xsrf-token',
  'x-auth-token',
  'x-access-token',
]);

/**
 * Key rules redacted in bodies, query strings, headers and stored records, at any depth. A key is split into
 * words (`userPassword`, `user_password`, `user-password` → `user password`; `CVV2` → `cvv 2`) and a rule is:
 * - `password`: a word contains it (plain, four letters or more);
 * - `pin` or `=salt`: a word is exactly it (plain of three letters or fewer, or written with `=`);
 * - `api key`: these words in a row, or run together as one word (`apiKey`, `api_key`, `apikey`);
 * - `auth$`: the last word is exactly it (`basicAuth`, not `author` or `authProvider`);
 * - `^code$`: the whole key is exactly it;
 * - `?key`: the whole key is exactly it, in query strings and form bodies only.
 * Drawn from the Elastic APM `sanitize_field_names` default, Sentry's SDK denylists and the Rails
 * `filter_parameter_logging` template, with short terms narrowed to whole words (see the README's Security).
 */
export const DEFAULT_REDACT_KEYS: readonly string[] = Object.freeze([
  // Passwords and secrets.
  'password',
  'passwd',
  'passphrase',
  '=pass',
  'pwd',
  'pw',
  '=passcode',
  'secret',
  'credential',
  '=creds',
  // Tokens and authorization.
  'token',
  'authorization',
  'authentication',
  '=bearer',
  'jwt',
  'csrf',
  'xsrf',
  'auth$',
  '=signature',
  'sig',
  '=salt',
  // Keys.
  'api key',
  'private key',
  'priv key',
  'secret key',
  'access key',
  'auth key',
  'client key',
  'service key',
  'account key',
  'db key',
  'database key',
  'signing key',
  'encryption key',
  'master key',
  'session key',
  'license key',
  // Sessions and cookies.
  'session$',
  'session id',
  'session token',
  'session secret',
  'sessionid',
  'sessid',
  'sid',
  'cookie$',
  'cookies$',
  // One-time codes and second factors.
  'otp',
  '=totp',
  '=hotp',
  'pin',
  'two factor',
  'auth code',
  'verification code',
  'security code',
  'recovery code',
  'backup code',
  'reset code',
  'mfa code',
  'code verifier',
  // Payment cards, bank accounts and identity numbers.
  'credit card',
  'card number',
  'card no',
  'card num',
  'cc number',
  'cc no',
  'cc num',
  'cvv',
  'cvc',
  'cvd',
  'cvn',
  '=iban',
  'ssn',
  'social security',
  // Query strings and forms: OAuth's `?code=`, signed URLs (OpenTelemetry's list), API keys passed as `?key=`. (A
  // record's `code` column is an order or country code, and stays.)
  '?code',
  '?key',
  '?x amz signature',
  '?x amz credential',
  '?x goog signature',
  '?aws access key id',
  '?hmac',
]);

export const REDACTED = '[REDACTED]';

/**
 * The last word of a key naming a property of a secret, not the secret itself: `password_changed_at`,
 * `token_type`, `session_count`, `pin_length` keep their values.
 */
const METADATA_WORDS: ReadonlySet<string> = new Set([
  'at',
  'on',
  'date',
  'time',
  'timestamp',
  'count',
  'length',
  'size',
  'type',
  'name',
  'expires',
  'expiry',
  'ttl',
  'version',
  'required',
  'enabled',
  'strength',
  'policy',
]);

/** Words a "contains" rule never matches inside: a secretary is not a secret, `max_tokens` counts tokens. */
const INNOCENT_WORDS: ReadonlySet<string> = new Set([
  'secretary',
  'secretaries',
  'secretariat',
  'tokens',
  'tokenize',
  'tokenizer',
  'tokenized',
  'tokenization',
  'tokenise',
  'tokeniser',
  'tokenised',
  'tokenisation',
]);

/** Pagination cursors: opaque, but not credentials. */
const INNOCENT_KEYS: ReadonlySet<string> = new Set(['page token', 'next page token', 'continuation token', 'sync token']);

/** A key as its lower-case words: camelCase, acronyms, letters before digits and any separator split. */
export function wordsOf(key: string): string[] {
  return (
    key
      .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
      .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
      .replace(/([a-zA-Z])([0-9])/g, '$1 $2')
      .toLowerCase()
      // Letters of any script: a rule written in Cyrillic or Japanese matches keys written so.
      .split(/[^\p{L}\p{N}]+/u)
      .filter(Boolean)
  );
}

interface Rules {
  contains: string[];
  words: Set<string>;
  phrases: string[][];
  last: Set<string>;
  whole: Set<string>;
  wholeInQuery: Set<string>;
}

/** Reads the rule syntax of `DEFAULT_REDACT_KEYS` (see there). */
function parseRules(keys: readonly string[]): Rules {
  const rules: Rules = { contains: [], words: new Set(), phrases: [], last: new Set(), whole: new Set(), wholeInQuery: new Set() };
  for (const raw of keys) {
    const entry = raw.trim();
    if (entry.startsWith('?')) rules.wholeInQuery.add(wordsOf(entry.slice(1)).join(' '));
    else if (entry.startsWith('^') && entry.endsWith('$')) rules.whole.add(wordsOf(entry.slice(1, -1)).join(' '));
    else if (entry.endsWith('$')) for (const word of wordsOf(entry.slice(0, -1))) rules.last.add(word);
    else if (entry.startsWith('=')) for (const word of wordsOf(entry.slice(1))) rules.words.add(word);
    else {
      const words = wordsOf(entry);
      if (words.length > 1) rules.phrases.push(words);
      else if (words[0] !== undefined && words[0].length <= 3) rules.words.add(words[0]);
      else if (words[0] !== undefined) rules.contains.push(words[0]);
    }
  }
  return rules;
}

function hasPhrase(words: readonly string[], phrase: readonly string[]): boolean {
  for (let i = 0; i + phrase.length <= words.length; i++) {
    if (phrase.every((p, j) => words[i + j] === p)) return true;
  }
  return words.includes(phrase.join(''));
}

const CACHE_LIMIT = 10_000;

/** Decides which keys hold secrets, by the rules of `DEFAULT_REDACT_KEYS`. Built once per logger; answers are cached per key. */
export class KeyRedactor {
  private readonly rules: Rules;
  private readonly headers: ReadonlySet<string>;
  private readonly cache = new Map<string, boolean>();
  private readonly queryCache = new Map<string, boolean>();

  constructor(keys: readonly string[], headers: readonly string[]) {
    this.rules = parseRules(keys);
    this.headers = new Set(headers.map((h) => h.toLowerCase()));
  }

  /** Whether the value of `key` (in a body, a record or a header) is a secret. */
  isSecretKey(key: string): boolean {
    return cached(this.cache, key, () => this.match(key, false));
  }

  /** Whether the value of a query string or form parameter is a secret (some names count only there: `key`, `sig`). */
  isSecretQueryKey(key: string): boolean {
    return cached(this.queryCache, key, () => this.match(key, true));
  }

  isSecretHeader(name: string): boolean {
    return this.headers.has(name.toLowerCase()) || this.isSecretKey(name);
  }

  private match(key: string, query: boolean): boolean {
    const words = wordsOf(key);
    if (words.length === 0) return false;
    const whole = words.join(' ');
    const r = this.rules;
    if (r.whole.has(whole) || (query && r.wholeInQuery.has(whole))) return true;
    const last = words[words.length - 1] ?? '';
    if (words.length > 1 && METADATA_WORDS.has(last)) return false;
    if (INNOCENT_KEYS.has(whole)) return false;
    for (const word of words) {
      if (r.words.has(word)) return true;
      if (!INNOCENT_WORDS.has(word) && r.contains.some((fragment) => word.includes(fragment))) return true;
    }
    if (r.last.has(last)) return true;
    return r.phrases.some((phrase) => hasPhrase(words, phrase));
  }
}

function cached(cache: Map<string, boolean>, key: string, decide: () => boolean): boolean {
  let hit = cache.get(key);
  if (hit === undefined) {
    hit = decide();
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, hit);
  }
  return hit;
}
