import { createHmac, createPrivateKey, createPublicKey, hkdfSync, KeyObject, sign, verify } from 'node:crypto';
import type { CheckpointDocument, SignatureAlgorithm } from '../../shared/document.js';
import { sameSecret } from '../../shared/strings.js';
import { canonicalJson, sha256 } from './canonical.js';

/**
 * A key that signs checkpoints: an Ed25519 private key (a `KeyObject` or PEM text), or `{ hmac: secret }`: HMAC-SHA-256,
 * weaker, since whoever holds the secret to verify can also sign.
 */
export type SigningKey = KeyObject | string | { hmac: string | Buffer };

/** A key that verifies checkpoints: an Ed25519 public (or private) key, as a `KeyObject` or PEM text, or `{ hmac: secret }`. */
export type VerifyingKey = SigningKey;

interface ResolvedKey {
  alg: SignatureAlgorithm;
  /** The key's fingerprint: what a checkpoint names it by. */
  id: string;
  sign?: (data: Buffer) => string;
  verify: (data: Buffer, signature: string) => boolean;
  /** A key for the MACs of the spool's lines, derived from a key that signs: a line a logger with it wrote is told. */
  lineKey?: Buffer;
}

/** The spool lines' MAC key of a signing key's secret material (its own, apart from the checkpoints' signatures). */
const lineKeyOf = (material: Buffer): Buffer => Buffer.from(hkdfSync('sha256', material, '', 'actionlog spool lines', 32));

const isHmac = (key: unknown): key is { hmac: string | Buffer } =>
  typeof key === 'object' && key !== null && !(key instanceof KeyObject) && 'hmac' in key;

/** A key's fingerprint: `ed25519:` and the SHA-256 of its public key (SPKI DER), or `hmac:` and a SHA-256 of the secret. */
function fingerprint(alg: SignatureAlgorithm, material: Buffer): string {
  const prefix = alg === 'ed25519' ? 'ed25519' : 'hmac';
  return `${prefix}:${sha256(Buffer.concat([Buffer.from(`actionlog-${prefix}:`), material])).slice(0, 32)}`;
}

function hmacKey(secret: string | Buffer): ResolvedKey {
  const material = Buffer.isBuffer(secret) ? secret : Buffer.from(secret);
  if (material.length < 16) throw new TypeError('an HMAC secret must be at least 16 bytes');
  const mac = (data: Buffer) => createHmac('sha256', material).update(data).digest('base64');
  return {
    alg: 'hmac-sha256',
    id: fingerprint('hmac-sha256', material),
    sign: mac,
    lineKey: lineKeyOf(material),
    verify: (data, signature) => sameSecret(mac(data), signature),
  };
}

function asKeyObject(key: KeyObject | string, wantPrivate: boolean): KeyObject {
  if (typeof key !== 'string') return key;
  return wantPrivate ? createPrivateKey(key) : createPublicKey(key);
}

/** Resolves a key for signing (private) or verifying (public); throws a `TypeError` saying what is wrong with it. */
export function resolveKey(key: SigningKey, purpose: 'sign' | 'verify'): ResolvedKey {
  if (isHmac(key)) return hmacKey(key.hmac);
  if (typeof key !== 'string' && !(key instanceof KeyObject)) {
    throw new TypeError('must be an Ed25519 KeyObject, PEM text, or { hmac: secret }');
  }
  const isPrivateText = typeof key === 'string' && key.includes('PRIVATE KEY');
  const object = asKeyObject(key, purpose === 'sign' || isPrivateText);
  if (object.asymmetricKeyType !== 'ed25519')
    throw new TypeError(`must be an Ed25519 key (got ${object.asymmetricKeyType ?? object.type})`);
  if (purpose === 'sign' && object.type !== 'private') throw new TypeError('must be an Ed25519 private key to sign checkpoints');
  const publicKey = object.type === 'private' ? createPublicKey(object) : object;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    alg: 'ed25519',
    id: fingerprint('ed25519', der),
    sign: object.type === 'private' ? (data) => sign(null, data, object).toString('base64') : undefined,
    lineKey: object.type === 'private' ? lineKeyOf(object.export({ type: 'pkcs8', format: 'der' })) : undefined,
    verify: (data, signature) => {
      try {
        return verify(null, data, publicKey, Buffer.from(signature, 'base64'));
      } catch {
        return false;
      }
    },
  };
}

/** A checkpoint's signed part: everything but the store's `_id`, its `hash` and its `signature`. */
export function checkpointHash(checkpoint: Omit<CheckpointDocument, 'hash' | 'signature'> & Partial<CheckpointDocument>): string {
  const { _id, hash, signature, ...body } = checkpoint;
  return sha256(canonicalJson(body));
}

/** Seals a checkpoint body: its hash, signed with `key`. */
export function signCheckpoint(body: Omit<CheckpointDocument, 'hash' | 'signature'>, key: ResolvedKey): CheckpointDocument {
  if (!key.sign) throw new TypeError('this key cannot sign');
  const hash = checkpointHash(body);
  return { ...body, hash, signature: { alg: key.alg, key_id: key.id, value: key.sign(Buffer.from(hash)) } };
}

/** The key a checkpoint names; undefined when it has no signature (read back from a store or a file: anything may be missing). */
export const keyIdOf = (checkpoint: CheckpointDocument): string | undefined =>
  (checkpoint.signature as Partial<CheckpointDocument['signature']> | undefined)?.key_id;

/** How `checkSeal` begins when the key a checkpoint names is not among those given. */
export const UNKNOWN_KEY = 'signed by an unknown key';

/** Why a checkpoint's seal does not hold, or null when it does. */
export function checkSeal(checkpoint: CheckpointDocument, keys: ReadonlyMap<string, ResolvedKey>): string | null {
  if (checkpointHash(checkpoint) !== checkpoint.hash) return 'its content does not match its hash';
  // No key given: signatures cannot be checked (verify reports the trail unverifiable for it), not found forged.
  if (keys.size === 0) return null;
  // Read back from a store: anything may be missing.
  const signature = checkpoint.signature as CheckpointDocument['signature'] | undefined;
  if (!signature) return 'it has no signature';
  const key = keys.get(signature.key_id);
  if (!key) return `${UNKNOWN_KEY} ${signature.key_id}`;
  if (key.alg !== signature.alg) return `signature algorithm ${signature.alg} does not match key ${key.id}`;
  return key.verify(Buffer.from(checkpoint.hash), signature.value) ? null : 'bad signature';
}

export type { ResolvedKey };
