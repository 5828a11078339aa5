import { randomFillSync } from 'node:crypto';

const IDS_PER_FILL = 256;
const HEX = '0123456789abcdef';
const random = Buffer.alloc(16 * IDS_PER_FILL);
let next = IDS_PER_FILL;
const text = Buffer.alloc(36);

/**
 * A random UUID v4, as `crypto.randomUUID()` gives, but as one flat string: Node's is a tree of ~15 concatenations,
 * ~500 bytes that every document kept in memory (a writer's backlog, a MemoryStore) holds per id.
 */
export function newUuid(): string {
  if (next === IDS_PER_FILL) {
    randomFillSync(random);
    next = 0;
  }
  const at = 16 * next++;
  random[at + 6] = (random.readUInt8(at + 6) & 0x0f) | 0x40; // version 4
  random[at + 8] = (random.readUInt8(at + 8) & 0x3f) | 0x80; // variant 10
  let out = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 0x2d; // '-'
    const byte = random.readUInt8(at + i);
    text[out++] = HEX.charCodeAt(byte >> 4);
    text[out++] = HEX.charCodeAt(byte & 0x0f);
  }
  return text.toString('latin1', 0, 36);
}
