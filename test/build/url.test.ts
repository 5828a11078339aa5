import { describe, expect, it } from 'vitest';
import { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_KEYS, KeyRedactor, REDACTED } from '../../src/build/sanitize/redactor.js';
import { redactUrl } from '../../src/build/url.js';

const redactor = new KeyRedactor(DEFAULT_REDACT_KEYS, DEFAULT_REDACT_HEADERS);
const redact = (url: string) => redactUrl(url, redactor);

describe('redactUrl', () => {
  it('redacts the value of a secret query parameter', () => {
    expect(redact('/login?password=hunter2')).toBe(`/login?password=${REDACTED}`);
  });

  it('redacts every secret parameter and keeps the others in place', () => {
    // `code` is OAuth's authorization code: secret where it is the whole key.
    expect(redact('/cb?code=abc&access_token=t0k&state=xyz&client_secret=s3')).toBe(
      `/cb?code=${REDACTED}&access_token=${REDACTED}&state=xyz&client_secret=${REDACTED}`,
    );
  });

  it('matches secret keys as the redactor does: any case, inside longer names, whole words for short ones', () => {
    expect(redact('/a?ApiKey=1&X-Refresh-Token=2&user_ssn=3&lesson=4&className=5')).toBe(
      `/a?ApiKey=${REDACTED}&X-Refresh-Token=${REDACTED}&user_ssn=${REDACTED}&lesson=4&className=5`,
    );
  });

  it('keeps the other parameters byte for byte, encoding included', () => {
    const url = '/search?q=caf%C3%A9+au+lait&sort=-date&tags=a,b;c&empty=&x=%2F%3F%26';
    expect(redact(url)).toBe(url);
  });

  it('keeps a path of ordinary words and ids, and takes credentials out of user:password@', () => {
    expect(redact('/password/reset?token=abc')).toBe(`/password/reset?token=${REDACTED}`);
    expect(redact('https://example.com:8443/token?x=1')).toBe('https://example.com:8443/token?x=1');
    expect(redact('https://user:pw@example.com:8443/token?x=1')).toBe(`https://${REDACTED}@example.com:8443/token?x=1`);
  });

  it('returns a URL without a query string as it is', () => {
    expect(redact('/orders/42')).toBe('/orders/42');
    expect(redact('/token/secret')).toBe('/token/secret');
    expect(redact('')).toBe('');
  });

  it('keeps an empty query string', () => {
    expect(redact('/a?')).toBe('/a?');
  });

  it('redacts secret parameters in the fragment too, and keeps any other fragment', () => {
    expect(redact('/a?token=abc#section')).toBe(`/a?token=${REDACTED}#section`);
    // OAuth's implicit flow puts tokens there.
    expect(redact('/a?x=1#token=abc')).toBe(`/a?x=1#token=${REDACTED}`);
    expect(redact('/a?x=1#section-2')).toBe('/a?x=1#section-2');
    expect(redact('/a?#password=1')).toBe(`/a?#password=${REDACTED}`);
  });

  it('decodes a key written with + for spaces before matching it', () => {
    // "api key" normalizes to "apikey", a secret; the key is kept as sent.
    expect(redact('/a?api+key=1&my+name=2')).toBe(`/a?api+key=${REDACTED}&my+name=2`);
  });

  it('decodes a percent-encoded key before matching it, and keeps it encoded', () => {
    expect(redact('/a?pass%77ord=1&access%5Ftoken=2&%74oken=3')).toBe(
      `/a?pass%77ord=${REDACTED}&access%5Ftoken=${REDACTED}&%74oken=${REDACTED}`,
    );
    expect(redact('/a?na%6De=1')).toBe('/a?na%6De=1');
  });

  it('matches a key with malformed percent-encoding as it is written', () => {
    expect(redact('/a?token%=1&%E0%A4%A=2&%zz=3')).toBe(`/a?token%=${REDACTED}&%E0%A4%A=2&%zz=3`);
  });

  it('keeps a value with malformed percent-encoding when the key is not secret', () => {
    expect(redact('/a?q=%zz&r=100%')).toBe('/a?q=%zz&r=100%');
  });

  it('redacts an empty secret value', () => {
    expect(redact('/a?token=&x=1')).toBe(`/a?token=${REDACTED}&x=1`);
  });

  it('redacts the whole value of a secret, up to the next &, even when it holds =', () => {
    expect(redact('/a?token=a=b=c&x=1')).toBe(`/a?token=${REDACTED}&x=1`);
  });

  it('redacts every occurrence of a repeated secret key', () => {
    expect(redact('/a?token=1&x=2&token=3&TOKEN=4')).toBe(`/a?token=${REDACTED}&x=2&token=${REDACTED}&TOKEN=${REDACTED}`);
  });

  it('keeps every occurrence of a repeated ordinary key', () => {
    expect(redact('/a?id=1&id=2&id=3')).toBe('/a?id=1&id=2&id=3');
  });

  it('keeps empty pairs and a key without a value that is not secret', () => {
    expect(redact('/a?&&flag&x=1&')).toBe('/a?&&flag&x=1&');
  });

  it('redacts keys written in bracket notation', () => {
    expect(redact('/a?user[password]=1&user[name]=2&token[]=3&max_tokens=4')).toBe(
      `/a?user[password]=${REDACTED}&user[name]=2&token[]=${REDACTED}&max_tokens=4`,
    );
  });

  it('answers with the given redactor only', () => {
    const custom = new KeyRedactor(['pin'], []);
    expect(redactUrl('/a?pin=1234&password=x', custom)).toBe(`/a?pin=${REDACTED}&password=x`);
  });
});

describe('redactUrl, tokens in the path', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
  const hex64 = 'a'.repeat(16) + '0123456789abcdef'.repeat(3);

  it.each([
    [`/api/sessions/${jwt}`, '/api/sessions/:redacted'],
    [`/download/${hex64}`, '/download/:redacted'],
    ['/reset/3f2a9c1e-77b1-4c2a-9b1e-2f6e0d1c9a44', '/reset/:redacted'],
    ['/invite/abcdefghijklmnop', '/invite/:redacted'],
    ['/invite/abcdefghijklmnop/accept', '/invite/:redacted/accept'],
    ['/files/Zk3pQ9vT2mX8rL5wN1cB7dY4hG6jF0sA', '/files/:redacted'],
    ['/hooks/ghp_abcdefghijklmnopqrstuvwxyz0123456789', '/hooks/:redacted'],
    ['/a;jsessionid=ABC123DEF456/b', `/a;jsessionid=${REDACTED}/b`],
    ['/a;token=x/b', `/a;token=${REDACTED}/b`],
  ])('masks %s', (url, stored) => {
    expect(redact(url)).toBe(stored);
  });

  it.each([
    '/orders/507f1f77bcf86cd799439011',
    '/users/3f2a9c1e-77b1-4c2a-9b1e-2f6e0d1c9a44',
    '/commits/4b825dc642cb6eb9a060e54bf8d69288fbee4904',
    '/blog/how-to-write-an-audit-trail-for-node-apps',
    '/orders/1234567890123456789',
    '/files/sha256:' + 'a'.repeat(64),
  ])('keeps ids and slugs: %s', (url) => {
    expect(redact(url)).toBe(url);
  });
});
