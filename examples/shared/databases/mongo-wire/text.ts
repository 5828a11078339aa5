import type { Document } from 'bson';
import { badValue, CommandError, notImplemented } from './errors.js';
import { getPath, type IndexSpec } from './storage.js';

/**
 * Text indexes and `$text` as MongoDB's text index version 3 does them, for the language `none` (no stemming, no
 * stop words): words split at MongoDB's delimiters, compared case and diacritic aside; a search matches a document
 * holding at least one of its terms and every one of its quoted phrases (a phrase is a substring of one field).
 * Other languages, case- or diacritic-sensitive searches and scores are refused as not implemented.
 */

/** MongoDB's delimiters: White_Space, Dash, Hyphen, Quotation_Mark, Terminal_Punctuation, Pattern_Syntax, STerm. */
const DELIMITERS =
  /[\p{White_Space}\p{Dash}\p{Quotation_Mark}\p{Terminal_Punctuation}\p{Pattern_Syntax}\p{Sentence_Terminal}\u00AD\u1806\u30FB\uFF65]+/u;

/** Lower case first, then diacritics stripped, in the order MongoDB's tokenizer applies them. */
export const foldText = (s: string) =>
  s
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '');

export function tokenize(text: string): string[] {
  return text.split(DELIMITERS).filter(Boolean).map(foldText).filter(Boolean);
}

/** The index MongoDB lists for a text key: `{ _fts: 'text', _ftsx: 1 }` with the fields as weights. */
export function textIndexSpec(raw: Document): IndexSpec {
  const key = raw.key as Document;
  const fields = Object.keys(key);
  if (fields.some((field) => key[field] !== 'text')) throw notImplemented('a compound text index with non-text fields');
  if (fields.includes('$**')) throw notImplemented('a wildcard text index');
  const weights: Record<string, number> = Object.fromEntries(fields.map((field) => [field, 1]));
  for (const [field, weight] of Object.entries((raw.weights as Document | undefined) ?? {})) {
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 99_999) {
      throw badValue(`text index weight must be in the exclusive interval (0,100000) but found: ${String(weight)}`);
    }
    weights[field] = weight;
  }
  const language: unknown = raw.default_language ?? 'english';
  if (language !== 'none') throw notImplemented(`text indexes in language "${String(language)}" (stemming and stop words)`);
  if (raw.textIndexVersion !== undefined && raw.textIndexVersion !== 3) throw notImplemented('text index versions other than 3');
  const override: unknown = raw.language_override ?? 'language';
  if (typeof override !== 'string' || override === '') throw badValue('language_override must be a non-empty string');
  return {
    v: 2,
    key: { _fts: 'text', _ftsx: 1 },
    name: String(raw.name),
    weights: Object.fromEntries(Object.entries(weights).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    default_language: 'none',
    language_override: override,
    textIndexVersion: 3,
  };
}

export const isTextIndex = (spec: IndexSpec) => spec.key._fts === 'text';

/**
 * A filter with its `$text` taken out (from the top level or a top-level `$and`, where MongoDB accepts it), and the
 * test that `$text` adds; `indexes` are the collection's, undefined when it does not exist.
 */
export function takeText(
  filter: Document,
  indexes: IndexSpec[] | undefined,
  ns: string,
): { rest: Document; test?: (doc: Document) => boolean } {
  const found: unknown[] = [];
  const rest = strip(filter, found);
  if (found.length === 0) return { rest };
  if (found.length > 1) throw badValue('Too many text expressions');
  if (!indexes) throw new CommandError(27, 'IndexNotFound', `text index required for $text query (no such collection '${ns}')`);
  const index = indexes.find(isTextIndex);
  if (!index) throw new CommandError(27, 'IndexNotFound', 'text index required for $text query');
  return { rest, test: textTest(index, found[0]) };
}

function strip(filter: Document, found: unknown[]): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$text') found.push(value);
    else if (key === '$and' && Array.isArray(value)) out.$and = value.map((c: unknown) => (isPlain(c) ? strip(c, found) : c));
    else {
      refuseNestedText(value, key);
      out[key] = value as unknown;
    }
  }
  return out;
}

/** `$text` anywhere but the top level: MongoDB accepts it under `$or` only when every branch is indexed. */
function refuseNestedText(value: unknown, under: string): void {
  if (Array.isArray(value)) {
    for (const item of value) refuseNestedText(item, under);
    return;
  }
  if (!isPlain(value)) return;
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$text') {
      if (under === '$or') throw notImplemented('$text inside $or');
      throw badValue(under === '$nor' ? 'text expression not allowed in nor' : '$text can only be applied to the top-level document');
    }
    refuseNestedText(inner, under.startsWith('$') ? under : key);
  }
}

/** Whether `$text` appears anywhere in a filter. */
export function hasText(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasText);
  return isPlain(value) && Object.entries(value).some(([key, inner]) => key === '$text' || hasText(inner));
}

const isPlain = (value: unknown): value is Document =>
  value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null);

interface ParsedSearch {
  terms: Set<string>;
  negatedTerms: Set<string>;
  phrases: string[];
  negatedPhrases: string[];
}

function textTest(index: IndexSpec, raw: unknown): (doc: Document) => boolean {
  if (!isPlain(raw)) throw badValue('$text expects an object');
  if (typeof raw.$search !== 'string') throw badValue('$search required and must be a string');
  if (raw.$language !== undefined && typeof raw.$language !== 'string') throw badValue('$language requires a string value');
  for (const flag of ['$caseSensitive', '$diacriticSensitive']) {
    if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean') throw badValue(`${flag} requires a boolean value`);
  }
  if (Object.keys(raw).some((key) => !['$search', '$language', '$caseSensitive', '$diacriticSensitive'].includes(key))) {
    throw badValue('extra fields in $text');
  }
  if (raw.$language !== undefined && raw.$language !== 'none') throw notImplemented(`$text in language "${raw.$language}"`);
  if (raw.$caseSensitive === true || raw.$diacriticSensitive === true) throw notImplemented('case or diacritic sensitive $text');
  const search = parseSearch(raw.$search);
  const fields = Object.keys(index.weights ?? {});
  const override = index.language_override ?? 'language';
  return (doc) => {
    const language = getPath(doc, override);
    if (typeof language === 'string' && language !== 'none') throw notImplemented(`documents in language "${language}"`);
    return matches(
      search,
      fields.flatMap((field) => stringsAt(doc, field.split('.'))),
    );
  };
}

function matches(search: ParsedSearch, values: string[]): boolean {
  const tokens = new Set(values.flatMap(tokenize));
  if (![...search.terms].some((term) => tokens.has(term))) return false;
  if ([...search.negatedTerms].some((term) => tokens.has(term))) return false;
  const folded = values.map(foldText);
  const found = (phrase: string) => folded.some((value) => value.includes(foldText(phrase)));
  return search.phrases.every(found) && !search.negatedPhrases.some(found);
}

/** The strings at a dotted path, through arrays at any level. */
function stringsAt(value: unknown, path: string[]): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => stringsAt(item, path));
  if (path.length === 0) return typeof value === 'string' ? [value] : [];
  if (value === null || typeof value !== 'object') return [];
  const [head = '', ...tail] = path;
  return stringsAt((value as Document)[head], tail);
}

/** MongoDB's `$search` grammar: words, `"phrases"`, and `-` negating a word or phrase it is glued to. */
function parseSearch(search: string): ParsedSearch {
  let positive = '';
  let negative = '';
  let inNegation = false;
  let inPhrase = false;
  let quoteOffset = 0;
  const phrases: string[] = [];
  const negatedPhrases: string[] = [];
  for (const token of queryTokens(search)) {
    if (token.kind === 'text') {
      if (inPhrase && inNegation) continue;
      if (inNegation && token.afterWhiteSpace) inNegation = false;
      if (inNegation) negative += `${token.text} `;
      else positive += `${token.text} `;
    } else if (token.text === '-') {
      if (!inPhrase && token.afterWhiteSpace) inNegation = true;
    } else if (inPhrase) {
      (inNegation ? negatedPhrases : phrases).push(search.slice(quoteOffset + 1, token.offset));
      inPhrase = false;
    } else {
      inPhrase = true;
      if (inNegation && token.afterWhiteSpace) inNegation = false;
      quoteOffset = token.offset;
    }
  }
  return { terms: new Set(tokenize(positive)), negatedTerms: new Set(tokenize(negative)), phrases, negatedPhrases };
}

interface QueryToken {
  kind: 'text' | 'delimiter';
  text: string;
  offset: number;
  afterWhiteSpace: boolean;
}

function* queryTokens(search: string): Generator<QueryToken> {
  const kindAt = (i: number) => {
    const c = search.charAt(i);
    return /[\n\v\f\r ]/.test(c) ? 'space' : c === '-' || c === '"' ? 'delimiter' : 'text';
  };
  let pos = 0;
  const skipSpace = () => {
    const start = pos;
    while (pos < search.length && kindAt(pos) === 'space') pos++;
    return pos > start;
  };
  skipSpace();
  let afterWhiteSpace = true;
  while (pos < search.length) {
    const start = pos++;
    const kind = kindAt(start) as QueryToken['kind'];
    if (kind === 'text') while (pos < search.length && kindAt(pos) === 'text') pos++;
    const token = { kind, text: search.slice(start, pos), offset: start, afterWhiteSpace };
    afterWhiteSpace = skipSpace();
    yield token;
  }
}
