/*
 * Secrets recognised by their shape rather than by the key they sit under: credentials in free text, in header
 * values and in URL paths. Shapes from the research behind the README's Security section (gitleaks' token
 * prefixes, Datadog's JWT shape, OpenTelemetry's URL rules).
 */

import { REDACTED } from './redactor.js';

/** JWT/JWS: a JOSE header (`{"` base64url-encoded starts `eyI`..`eyL`), a payload, a signature (empty for alg none). */
const JWT = /\bey[I-L][\w-]{6,}\.ey[I-L][\w-]{6,}\.[\w-]*/g;
/** An HTTP credential after its scheme. */
const SCHEME_CREDENTIAL = /\b(Bearer|Basic|Digest|Token|Negotiate)\s+[\w+/=.~:-]{8,}/gi;
/** Provider tokens by their prefixes (GitHub, Slack, Stripe, GitLab, AWS access key ids, Google API keys). */
const PREFIXED =
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|xox[abposr]-[\w-]{10,}|[sr]k_(?:live|test)_\w{10,}|glpat-[\w-]{20,}|AKIA[0-9A-Z]{16}|AIza[\w-]{35})/g;
/** A PEM private key block. */
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g;
/** `user:password@` in a URL. */
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi;

/** A cheap first look: most strings hold none of the shapes, and skip the expressions. */
const MAYBE =
  /ey[I-L]|Bearer|Basic|Digest|Token|Negotiate|gh[pousr]_|github_pat_|xox|k_live_|k_test_|glpat-|AKIA|AIza|PRIVATE KEY|:\/\/[^\s/@]+@/i;

/** `text` with every credential found by its shape replaced by `[REDACTED]`. */
export function maskSecretValues(text: string): string {
  if (!MAYBE.test(text)) return text;
  return text
    .replace(PRIVATE_KEY, REDACTED)
    .replace(USERINFO, `$1${REDACTED}@`)
    .replace(JWT, REDACTED)
    .replace(SCHEME_CREDENTIAL, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(PREFIXED, REDACTED);
}

/** Words before a path segment that make the segment a token whatever its shape (`/reset/<token>`). */
const TOKEN_CONTEXT: ReadonlySet<string> = new Set([
  'reset',
  'reset-password',
  'password-reset',
  'verify',
  'verification',
  'confirm',
  'confirmation',
  'activate',
  'activation',
  'invite',
  'invites',
  'invitation',
  'invitations',
  'magic',
  'magic-link',
  'unsubscribe',
  'token',
  'tokens',
  'key',
  'keys',
  'secret',
  'api-key',
  'otp',
  'session',
  'sessions',
]);

const HEX = /^[0-9a-f]+$/i;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Shannon entropy of a string, in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** The shortest path segment `isTokenSegment` may take for a token. */
export const MIN_TOKEN_SEGMENT = 16;

/**
 * Whether a URL path segment is a token: a JWT or a known provider token; a long hex string (48 characters or
 * more: ObjectIds, MD5s, UUIDs and git SHAs stay, they are ids an audit trail needs); a long random-looking
 * base64url string; or, after a word such as `reset` or `invite`, any segment of 16 token characters or more.
 */
export function isTokenSegment(segment: string, previous: string | undefined): boolean {
  if (segment.length < MIN_TOKEN_SEGMENT) return false;
  if (previous !== undefined && TOKEN_CONTEXT.has(previous.toLowerCase()) && /^[\w-]+$/.test(segment)) return true;
  if (maskSecretValues(segment) !== segment) return true;
  if (HEX.test(segment)) return segment.length >= 48;
  return (
    segment.length >= 32 &&
    BASE64URL.test(segment) &&
    /[A-Z]/.test(segment) &&
    /[a-z]/.test(segment) &&
    /[0-9]/.test(segment) &&
    entropy(segment.replace(/=+$/, '')) >= 4
  );
}
