import { createHash } from 'node:crypto';

const node = (prefix: number, ...parts: string[]): string => {
  const hash = createHash('sha256').update(Buffer.from([prefix]));
  for (const part of parts) hash.update(Buffer.from(part, 'hex'));
  return hash.digest('hex');
};

/**
 * The Merkle root of hex hashes, as RFC 6962 (Certificate Transparency) builds it: leaves prefixed with 0x00, inner
 * nodes with 0x01, the left subtree the largest power of two below the count. Null for no hashes.
 */
export function merkleRoot(hashes: readonly string[]): string | null {
  if (hashes.length === 0) return null;
  return subtree(hashes, 0, hashes.length);
}

function subtree(hashes: readonly string[], start: number, end: number): string {
  if (end - start === 1) return node(0, hashes[start] ?? '');
  let split = 1;
  while (split * 2 < end - start) split *= 2;
  return node(1, subtree(hashes, start, start + split), subtree(hashes, start + split, end));
}
