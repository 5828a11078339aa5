import { randomUUID } from 'node:crypto';
import type { ActionLogger, MemoryStore, ModelLog } from 'actionlog';

/** Runs `fn` in a scope of its own and returns the model logs of its document, once stored. */
export async function logsOf(logger: ActionLogger, store: MemoryStore, fn: () => unknown, requestUuid = randomUUID()): Promise<ModelLog[]> {
  await logger.run({ requestUuid }, fn);
  await logger.flush();
  return store.requests().find((d) => d.request_uuid === requestUuid)?.details.model_logs ?? [];
}
