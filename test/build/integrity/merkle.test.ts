import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { merkleRoot } from '../../../src/build/integrity/merkle.js';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const leaves = (n: number) => Array.from({ length: n }, (_, i) => createHash('sha256').update(`entry ${i}`).digest('hex'));

describe('merkleRoot', () => {
  it('is null for no hashes, and a leaf hash (0x00 prefix) for one', () => {
    expect(merkleRoot([])).toBeNull();
    const [leaf] = leaves(1) as [string];
    expect(merkleRoot([leaf])).toBe(sha(Buffer.from([0]), Buffer.from(leaf, 'hex')).toString('hex'));
  });

  it('joins the largest power-of-two left subtree with the rest under a 0x01 prefix (RFC 6962)', () => {
    const [a, b, c] = leaves(3).map((h) => sha(Buffer.from([0]), Buffer.from(h, 'hex'))) as [Buffer, Buffer, Buffer];
    const left = sha(Buffer.from([1]), a, b);
    expect(merkleRoot(leaves(3))).toBe(sha(Buffer.from([1]), left, c).toString('hex'));
  });

  it('gives the roots stored checkpoints carry', () => {
    // Roots of `entry 0`…`entry n-1` hashed, as checkpoints made before this implementation stored them.
    expect(merkleRoot(leaves(2))).toBe('0cdc5e54ca58a1acf1b1345d4a06ff917c7bbf147b190a073583e3a8a4a2d00e');
    expect(merkleRoot(leaves(7))).toBe('a46ba227309ecd540496655979c3d06fd62487c827baa104ec0eeebd0d6586f8');
    expect(merkleRoot(leaves(1000))).toBe('3a863a4810b6efac0b5344a4c976799541109ef1a467e863140770343baaccab');
  });

  it("is RFC 6962's recursive split at every size, hashes that are not 64 hex digits taken as their hex decodes", () => {
    const reference = (hashes: string[]): Buffer => {
      if (hashes.length === 1) return sha(Buffer.from([0]), Buffer.from(hashes[0] as string, 'hex'));
      let split = 1;
      while (split * 2 < hashes.length) split *= 2;
      return sha(Buffer.from([1]), reference(hashes.slice(0, split)), reference(hashes.slice(split)));
    };
    const all = leaves(70);
    for (let n = 1; n <= all.length; n++)
      expect(merkleRoot(all.slice(0, n)), `${n} hashes`).toBe(reference(all.slice(0, n)).toString('hex'));
    const odd = [
      all[0] as string,
      'not hex',
      `${all[1] as string}00`,
      (all[2] as string).slice(0, 10),
      `zz${(all[3] as string).slice(2)}`,
      all[4] as string,
    ];
    expect(merkleRoot(odd)).toBe(reference(odd).toString('hex'));
  });
});
