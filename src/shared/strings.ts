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

/**
 * Orders strings by code point, as PostgreSQL (`COLLATE "C"`), SQLite and MongoDB compare them. JavaScript's `<`
 * compares UTF-16 units, which puts a character past U+FFFF (a surrogate pair) before U+E000–U+FFFF.
 */
export function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A UTF-16 unit's rank in code point order: surrogates (U+D800–U+DFFF) move after U+E000–U+FFFF. */
const codePointRank = (unit: number) => (unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit);
