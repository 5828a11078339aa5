import { describe, expect, it } from 'vitest';
import { importPeer } from '../../../src/cli/kit/peer.js';

describe('importPeer', () => {
  it('names the missing package, the flag that needs it and the command that installs it', async () => {
    let loaded = false;
    const load = () => {
      loaded = true;
      return Promise.resolve({});
    };
    await expect(importPeer(load, '--postgres', ['typeorm', 'actionlog-no-such-driver'])).rejects.toMatchObject({
      name: 'ActionLogConfigError',
      issues: [{ path: '--postgres', message: 'needs the package actionlog-no-such-driver: npm install actionlog-no-such-driver' }],
    });
    expect(loaded).toBe(false);
  });

  it('loads a package that is there', async () => {
    const { MongoClient } = await importPeer(() => import('mongodb'), '--mongodb', ['mongodb']);
    expect(typeof MongoClient).toBe('function');
  });
});
