// Preloaded into a bench server by `bench:profile-alloc` (`--import`): V8's sampling heap profiler, counting the
// objects the GC has already collected too (without them, a sample of a short-lived object is dropped when it dies,
// and a request's garbage, which is what costs, would not show). SIGUSR2 starts it; the second SIGUSR2 writes the
// profile to ALLOCATION_PROFILE (JSON) and stops it.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', {
      samplingInterval: Number(process.env.ALLOCATION_INTERVAL ?? 1024),
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    return;
  }
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) throw error;
    writeFileSync(process.env.ALLOCATION_PROFILE, JSON.stringify(result.profile));
  });
});
