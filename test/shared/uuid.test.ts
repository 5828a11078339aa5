import { describe, expect, it } from 'vitest';
import { newUuid } from '../../src/shared/uuid.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newUuid', () => {
  it('gives distinct UUIDs v4 across refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, () => newUuid());
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('spreads every random hex digit over all 16 values', () => {
    const ids = Array.from({ length: 2000 }, () => newUuid().replaceAll('-', ''));
    // Position 12 is the version and 16 the variant; the other 30 digits are random.
    for (let position = 0; position < 32; position++) {
      if (position === 12 || position === 16) continue;
      expect(new Set(ids.map((id) => id[position])).size, `digit ${position}`).toBe(16);
    }
  });
});
