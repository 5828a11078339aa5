import type { KeyRedactor } from './sanitize/redactor.js';
import { REDACTED } from './sanitize/redactor.js';
import { isTokenSegment, maskSecretValues, MIN_TOKEN_SEGMENT } from './sanitize/secret-values.js';

/** Stored in place of a path segment that is a token. */
export const REDACTED_SEGMENT = ':redacted';

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** `key=value&...` with the values of secret keys, and credentials found in other values, redacted. */
function redactParams(params: string, redactor: KeyRedactor, separator: string): string {
  return params
    .split(separator)
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      const rawKey = pair.slice(0, eq);
      if (redactor.isSecretQueryKey(decode(rawKey))) return `${rawKey}=${REDACTED}`;
      const value = pair.slice(eq + 1);
      const masked = maskSecretValues(decode(value));
      return masked === decode(value) ? pair : `${rawKey}=${encodeURIComponent(masked)}`;
    })
    .join(separator);
}

/** The path with token segments (`/reset/<token>`, JWTs, long random strings) and secret matrix parameters redacted. */
function redactPath(path: string, redactor: KeyRedactor): string {
  if (!mayHoldToken(path)) return path;
  let previous: string | undefined;
  return path
    .split('/')
    .map((segment) => {
      const semicolon = segment.indexOf(';');
      const base = semicolon === -1 ? segment : segment.slice(0, semicolon);
      const params = semicolon === -1 ? '' : `;${redactParams(segment.slice(semicolon + 1), redactor, ';')}`;
      const decoded = decode(base);
      const kept = isTokenSegment(decoded, previous) ? REDACTED_SEGMENT : base;
      previous = decoded;
      return kept + params;
    })
    .join('/');
}

/**
 * Whether a segment of `path` could be redacted: one with matrix parameters, or one as long as a token can be
 * (decoding only shortens a segment). Most paths have neither, and are kept without being split.
 */
function mayHoldToken(path: string): boolean {
  if (path.includes(';')) return true;
  let start = 0;
  for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', start)) {
    if (slash - start >= MIN_TOKEN_SEGMENT) return true;
    start = slash + 1;
  }
  return path.length - start >= MIN_TOKEN_SEGMENT;
}

/**
 * The URL as stored: values of secret query parameters (and of the fragment's, where OAuth puts tokens) replaced by
 * `[REDACTED]`, token-looking path segments by `:redacted`, credentials in `user:password@` removed; the rest kept
 * as sent.
 */
export function redactUrl(url: string, redactor: KeyRedactor): string {
  const hash = url.indexOf('#');
  const beforeHash = hash === -1 ? url : url.slice(0, hash);
  const fragment = hash === -1 ? '' : `#${redactParams(url.slice(hash + 1), redactor, '&')}`;
  const q = beforeHash.indexOf('?');
  const path = q === -1 ? beforeHash : beforeHash.slice(0, q);
  const query = q === -1 ? '' : `?${redactParams(beforeHash.slice(q + 1), redactor, '&')}`;
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path)?.[0] ?? '';
  return `${maskSecretValues(origin)}${redactPath(path.slice(origin.length), redactor)}${query}${fragment}`;
}
