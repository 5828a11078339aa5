import type { KeyRedactor } from './sanitize/redactor.js';
import { maskSecretValues } from './sanitize/secret-values.js';
import { redactUrl } from './url.js';

/** A word of free text that is a URL or a path (`https://…`, `/reset/…`, `…?token=…`). */
const URL_LIKE = /^(?:[a-z][a-z0-9+.-]*:\/\/|\/)|[?#]/i;
/** A word that is a query string of its own (`token=abc&next=/home`). */
const PARAMS = /^[^\s=&]+=[^\s]*$/;

/**
 * Free text (an activity's description) with the rules of request URLs applied to each word that is a URL, a
 * path or `key=value` pairs, and credentials found anywhere by their shape masked.
 */
export function redactText(text: string, redactor: KeyRedactor): string {
  const words = text.replace(/\S+/g, (word) => {
    if (URL_LIKE.test(word)) return redactUrl(word, redactor);
    if (PARAMS.test(word)) return redactUrl(`?${word}`, redactor).slice(1);
    return word;
  });
  return maskSecretValues(words);
}
