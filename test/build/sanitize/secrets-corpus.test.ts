import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createActionLogger, MemoryStore } from 'actionlog';
import { orderChange } from '../../../examples/shared/orders.js';
import { startApp } from '../../support/apps.js';
import { Client } from '../../support/client.js';

/*
 * Secrets planted where requests and records carry them: body keys of every spelling, headers, query parameters,
 * text bodies, URL paths and ORM columns. Not one may be stored; the innocent values beside them must be.
 */

let n = 0;
/** A unique secret value; `shape` gives it the form of a real credential where the rule is about the shape. */
const secret = (shape?: 'jwt' | 'hex64' | 'github' | 'base64') => {
  n++;
  const seed = createHash('sha256').update(`planted-${n}`).digest();
  if (shape === 'jwt') return `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLSR7bn0ifQ.${seed.toString('base64url')}`;
  if (shape === 'hex64') return seed.toString('hex');
  if (shape === 'github') return `ghp_${seed.toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`;
  if (shape === 'base64') return `Zk3${seed.toString('base64url').replace(/[-_]/g, 'Q').slice(0, 37)}9`;
  return `planted-${n}-${seed.toString('hex').slice(0, 10)}`;
};

const BODY_KEYS = [
  'password',
  'passwd',
  'pass',
  'pwd',
  'newPassword',
  'password_confirmation',
  'current-password',
  'PASSWORD',
  'secret',
  'client_secret',
  'clientSecret',
  'token',
  'accessToken',
  'access_token',
  'refresh_token',
  'idToken',
  'api_key',
  'apiKey',
  'apikey',
  'x-api-key',
  'privateKey',
  'private_key',
  'secretKey',
  'accessKey',
  'signingKey',
  'otp',
  'otpSeed',
  'totp',
  'pin',
  'user_pin',
  'jwt',
  'session',
  'sessionId',
  'session_token',
  'connect.sid',
  'csrfToken',
  'xsrf-token',
  'cvc',
  'cvv',
  'CVV2',
  'credit_card',
  'creditCardNumber',
  'card_number',
  'cardNo',
  'card_num',
  'ssn',
  'userSSN',
  'social_security_number',
  'iban',
  'authorization',
  'cookie',
  'auth',
  'basicAuth',
  'bearer',
  'credentials',
  'passphrase',
  'verification_code',
  'code_verifier',
  'two_factor',
  'mfa_code',
  'salt',
  'signature',
  'x_auth_token',
  'db_password',
  'mysql_pwd',
  'stripeSecretKey',
  'aws_secret_access_key',
  'jwtToken',
  'sessionKey',
  'backup_code',
  'reset_code',
  'security_code',
  'recovery_code',
  'card_cvc',
  'cc_number',
  'ccNum',
  'auth_key',
  'client_key',
  'service_key',
  'account_key',
  'master_key',
  'license_key',
  'encryption_key',
];

const ORM_COLUMNS = ['otpSeed', 'privateKey', 'pin', 'cardNo', 'sessionId', 'password_hash', 'apiToken', 'recovery_code', 'iban', 'ssn'];

const QUERY_PARAMS = [
  'code',
  'sig',
  'jwt',
  'key',
  'access_token',
  'id_token',
  'refresh_token',
  'client_secret',
  'api_key',
  'password',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'X-Goog-Signature',
  'AWSAccessKeyId',
  'Signature',
  'oauth_token',
  'oauth_signature',
  'code_verifier',
  'hmac',
  'token',
  'apikey',
];

const HEADERS = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'x-forwarded-authorization',
  'authentication',
  'x-access-key',
  'x-amz-security-token',
  'x-csrf-token',
  'x-auth-token',
  'x-access-token',
  'x-goog-api-key',
  'x-session-token',
];

const INNOCENT = {
  className: 'btn-primary',
  keyboard: 'qwerty',
  author: 'Ada',
  passenger: 'Bo',
  compass: 'north',
  pinned: true,
  session_count: 3,
  zip_code: '0150',
  status_code: 201,
  max_tokens: 100,
  token_type: 'Bearer',
  primary_key: 'id',
  publicKey: 'ssh-ed25519 AAAAC3Nz',
  description: 'a sign of the times',
  code: 'ORDER-7',
};

describe('a corpus of planted secrets', () => {
  it('stores none of them, wherever they are sent, and keeps the innocent values beside them', async () => {
    const planted: string[] = [];
    const plant = (shape?: Parameters<typeof secret>[0]) => {
      const value = secret(shape);
      planted.push(value);
      return value;
    };

    const body: Record<string, unknown> = { ...INNOCENT };
    for (const key of BODY_KEYS) body[key] = plant();
    body.nested = { deeper: [{ password: plant(), note: 'kept' }], auth: { bearer: plant() } };
    body.free_text = `see ${plant('jwt')} for details`;

    const query = QUERY_PARAMS.map((param) => `${encodeURIComponent(param)}=${encodeURIComponent(plant())}`).join('&');
    const headers: Record<string, string> = { 'x-request-id': 'corpus', 'x-trace-note': `Bearer ${plant()}` };
    for (const header of HEADERS) headers[header] = plant();
    headers.cookie = `sid=${plant()}; theme=dark`;

    const paths = [
      `/reset/${plant()}`,
      `/sessions/${plant('jwt')}`,
      `/downloads/${plant('hex64')}`,
      `/hooks/${plant('github')}`,
      `/files/${plant('base64')}`,
    ];
    const texts = [
      `password=${plant()}&user=ada`,
      `{"otp":"${plant()}","user":"ada"}`,
      `Authorization: Bearer ${plant()}`,
      `-----BEGIN PRIVATE KEY-----\n${plant()}\n-----END PRIVATE KEY-----`,
      `the token is ${plant('jwt')}`,
    ];

    const store = new MemoryStore();
    const logger = createActionLogger({ store, flushIntervalMs: 60_000 });
    const record = (id: string) => {
      const columns = Object.fromEntries(ORM_COLUMNS.map((column) => [column, plant()]));
      logger.recordModelChange(
        orderChange(id, { old_object: { _id: id, ...columns, auth: { bearer: plant() } }, new_object: { _id: id, note: 'kept' } }),
      );
    };
    const app = await startApp('express', {
      logger,
      routes: {
        'POST /orders': async () => {
          record('first');
          record('second');
          return { status: 201 };
        },
        'POST /text': async () => ({ status: 200 }),
        'GET /reset/:token': async () => ({}),
        'GET /sessions/:token': async () => ({}),
        'GET /downloads/:id': async () => ({}),
        'GET /hooks/:id': async () => ({}),
        'GET /files/:id': async () => ({}),
      },
    });
    const client = new Client(app.url);
    expect((await client.send(`/orders?${query}&page=2&state=xyz`, { method: 'POST', headers, body })).status).toBe(201);
    for (const path of paths) await client.send(path);
    for (const text of texts) await client.send('/text', { method: 'POST', body: text, headers: { 'content-type': 'text/plain' } });
    await logger.flush();

    expect(planted.length).toBeGreaterThanOrEqual(150);
    const stored = JSON.stringify(store.requests());
    const leaked = planted.filter((value) => stored.includes(value));
    expect(leaked).toEqual([]);

    const [main] = store.requests().filter((d) => d.request_uuid === 'corpus');
    expect(main!.details.request!.body).toMatchObject({ ...INNOCENT, nested: { deeper: [{ note: 'kept' }] } });
    expect(main!.details.request!.url).toContain('&page=2&state=xyz');
    expect(main!.details.request!.headers).toMatchObject({ 'x-request-id': 'corpus' });
    client.agent.destroy();
    await app.close();
    await logger.close();
  });
});
