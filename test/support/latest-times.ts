/** The (actor, type) pair of a writer's `i`th action: three actors, two types. */
export function latestPair(i: number): [string, string] {
  return [`actor${i % 3}`, i % 2 === 0 ? 'login' : 'export'];
}

const T0 = Date.UTC(2026, 5, 1);

/**
 * When a writer's `i`th action happened: writers' times interleave, and each writer's run backwards and forwards
 * (later actions often older), so that arrival order says nothing of time. Some times repeat across writers (ties).
 */
export function latestTime(writer: number, i: number): Date {
  const scrambled = (i * 7919 + writer * 104_729) % 997;
  return new Date(T0 + scrambled * 1000 + (i % 5 === 0 ? 0 : writer));
}
