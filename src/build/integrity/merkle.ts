import { hash } from 'node:crypto';

/**
 * The Merkle root of hex hashes, as RFC 6962 (Certificate Transparency) builds it: leaves prefixed with 0x00, inner
 * nodes with 0x01, the left subtree the largest power of two below the count. Null for no hashes.
 */
export function merkleRoot(hashes: readonly string[]): string | null {
  if (hashes.length === 0) return null;
  return subtree(hashes, 0, hashes.length).toString('hex');
}

// Nodes stay bytes between levels: only the root is written as hex.
function subtree(hashes: readonly string[], start: number, end: number): Buffer {
  if (end - start === 1) return hash('sha256', Buffer.concat([LEAF, Buffer.from(hashes[start] ?? '', 'hex')]), 'buffer');
  let split = 1;
  while (split * 2 < end - start) split *= 2;
  const left = subtree(hashes, start, start + split);
  const right = subtree(hashes, start + split, end);
  return hash('sha256', Buffer.concat([INNER, left, right]), 'buffer');
}

const LEAF = Buffer.from([0]);
const INNER = Buffer.from([1]);
