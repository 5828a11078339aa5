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
    expect(redact('/cb?code=abc&access_token=t0k&state=xyz&client_secret=s3')).toBe(
      `/cb?code=abc&access_token=${REDACTED}&state=xyz&client_secret=${REDACTED}`,
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

  it('keeps the path, even when it looks like a secret', () => {
    expect(redact('/password/reset?token=abc')).toBe(`/password/reset?token=${REDACTED}`);
    expect(redact('https://user:pw@example.com:8443/token?x=1')).toBe('https://user:pw@example.com:8443/token?x=1');
  });

  it('returns a URL without a query string as it is', () => {
    expect(redact('/orders/42')).toBe('/orders/42');
    expect(redact('/token/secret')).toBe('/token/secret');
    expect(redact('')).toBe('');
  });

  it('keeps an empty query string', () => {
    expect(redact('/a?')).toBe('/a?');
  });

  it('keeps the fragment as it is, even when it looks like a secret parameter', () => {
    expect(redact('/a?token=abc#section')).toBe(`/a?token=${REDACTED}#section`);
    expect(redact('/a?x=1#token=abc')).toBe('/a?x=1#token=abc');
    expect(redact('/a?#password=1')).toBe('/a?#password=1');
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
    expect(redact('/a?user[password]=1&user[name]=2&tokens[]=3')).toBe(`/a?user[password]=${REDACTED}&user[name]=2&tokens[]=${REDACTED}`);
  });

  it('answers with the given redactor only', () => {
    const custom = new KeyRedactor(['pin'], []);
    expect(redactUrl('/a?pin=1234&password=x', custom)).toBe(`/a?pin=${REDACTED}&password=x`);
  });
});
