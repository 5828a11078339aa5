import { hash } from 'node:crypto';

/**
 * The Merkle root of hex hashes, as RFC 6962 (Certificate Transparency) builds it: leaves prefixed with 0x00, inner
 * nodes with 0x01, the left subtree the largest power of two below the count. Null for no hashes.
 */
export function merkleRoot(hashes: readonly string[]): string | null {
  const count = hashes.length;
  if (count === 0) return null;
  // One buffer for all nodes of a level and one for the input of each hash: the tree's cost is Node's per-call
  // overhead of `hash`, which it needs 2n - 1 times, so nothing else is allocated per node. Each digest comes back
  // as latin1 text (`binary`: one byte per character), which costs less to make than a Buffer.
  const nodes = Buffer.allocUnsafe(count * 32);
  const input = Buffer.allocUnsafe(65);
  const leafInput = input.subarray(0, 33);
  input[0] = 0;
  for (let i = 0; i < count; i++) {
    const text: unknown = hashes[i];
    const whole = typeof text === 'string' && text.length === 64 && input.write(text, 1, 32, 'hex') === 32;
    // A hash read back from a store may be anything: it is taken as its hex decodes, as any other.
    const leaf = whole ? leafInput : Buffer.concat([LEAF, Buffer.from((text ?? '') as string, 'hex')]);
    nodes.write(hash('sha256', leaf, 'binary'), i * 32, 'latin1');
  }
  // Level by level, pairing neighbours and carrying an odd last node up as it is: the same tree as RFC 6962's
  // recursive split, since each level's pairs fall inside the left subtree (a power of two) or the right one.
  input[0] = 1;
  let width = count;
  while (width > 1) {
    let next = 0;
    for (let i = 0; i + 1 < width; i += 2) {
      nodes.copy(input, 1, i * 32, i * 32 + 64);
      nodes.write(hash('sha256', input, 'binary'), next++ * 32, 'latin1');
    }
    if (width % 2 === 1) nodes.copy(nodes, next++ * 32, (width - 1) * 32, width * 32);
    width = next;
  }
  return nodes.toString('hex', 0, 32);
}

const LEAF = Buffer.from([0]);
