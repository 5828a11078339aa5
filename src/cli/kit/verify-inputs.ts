import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { resolveKey, type SigningKey, type VerifyingKey } from '../../build/integrity/checkpoint-keys.js';
import type { CheckpointDocument } from '../../shared/document.js';
import { archiveFileProblem } from '../../read/verify/archive-file.js';

/** A file's text, or the reason it cannot be read, as commander reports a bad option value. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Checks a key as verify (or the logger, to sign) will use it, so a bad one is refused before the database is opened. */
function checkedKey(key: VerifyingKey, what: string, purpose: 'sign' | 'verify' = 'verify'): VerifyingKey {
  try {
    resolveKey(key, purpose);
    return key;
  } catch (error) {
    throw new InvalidArgumentError(`${what}: ${(error as Error).message}`);
  }
}

/** `--key FILE`, repeatable: the PEM text of each Ed25519 key (public, or private, which verifies too). */
export function collectKeyFile(file: string, previous: VerifyingKey[] = []): VerifyingKey[] {
  const text = readText(file);
  if (!/-----BEGIN [A-Z ]*KEY-----/.test(text)) throw new InvalidArgumentError(`${file} holds no PEM key`);
  return [...previous, checkedKey(text, file)];
}

/** `--archive FILE`, repeatable: a file `actionlog archive --to` wrote, checked to be readable now. */
export function collectArchiveFile(file: string, previous: string[] = []): string[] {
  const problem = archiveFileProblem(file);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return [...previous, file];
}

/** `--signing-key FILE`: the PEM text of the Ed25519 private key that signs the trail's checkpoints. */
export function signingKeyFile(file: string): SigningKey {
  const text = readText(file);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new InvalidArgumentError(`${file} holds no PEM private key`);
  return checkedKey(text, file, 'sign');
}

/** `--hmac-secret-env NAME`: the HMAC secret in that environment variable, so that it is not in the process list. */
export function hmacKeyFromEnv(name: string): VerifyingKey {
  const secret = process.env[name];
  if (secret === undefined || secret === '') throw new InvalidArgumentError(`the environment variable ${name} is not set`);
  return checkedKey({ hmac: secret }, `the secret in ${name}`);
}

const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** Why a parsed line is not a checkpoint as `integrity.anchor` received it, or null. */
function notACheckpoint(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object';
  const c = value as Partial<Record<keyof CheckpointDocument, unknown>>;
  for (const field of ['uid', 'chain', 'hash'] as const) if (!isText(c[field])) return `has no ${field}`;
  if (typeof c.number !== 'number') return 'has no number';
  const signature = c.signature as Partial<CheckpointDocument['signature']> | undefined;
  if (!signature || !isText(signature.key_id) || !isText(signature.value)) return 'has no signature';
  return null;
}

/**
 * `--anchors FILE`: JSON lines, one checkpoint per line as the `integrity.anchor` callback received it (for
 * example `JSON.stringify(checkpoint)` appended to a file); blank lines are skipped.
 */
export function readAnchors(file: string): CheckpointDocument[] {
  const anchors: CheckpointDocument[] = [];
  for (const [i, line] of readText(file).split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new InvalidArgumentError(`${file} line ${i + 1} is not JSON`);
    }
    const problem = notACheckpoint(value);
    if (problem) throw new InvalidArgumentError(`${file} line ${i + 1} ${problem}: not a checkpoint`);
    const checkpoint = value as CheckpointDocument & { at: Date | string };
    anchors.push(typeof checkpoint.at === 'string' ? { ...checkpoint, at: new Date(checkpoint.at) } : checkpoint);
  }
  return anchors;
}

/** `--max-findings N`: a whole number from 1 on. */
export function findingsLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number from 1 on');
  return Number(value);
}
