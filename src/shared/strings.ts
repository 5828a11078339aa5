import { timingSafeEqual } from 'node:crypto';
/** What replaces U+0000 and unpaired surrogates: no store keeps them (PostgreSQL refuses them, MongoDB in keys). */
export const REPLACEMENT_CHARACTER = '\uFFFD';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` as every store keeps it: U+0000 and unpaired surrogates replaced by U+FFFD (checked in one native pass first). */
export function storable(s: string): string {
  if (s.indexOf('\u0000') === -1 && (s as unknown as { isWellFormed(): boolean }).isWellFormed()) return s;
  return s.replaceAll('\u0000', REPLACEMENT_CHARACTER).replace(LONE_SURROGATE, REPLACEMENT_CHARACTER);
}

/** Whether two MACs or signatures in text are the same, in a time that does not tell how much of them matched. */
export function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
