/**
 * Whether a write's options ask for no acknowledgement (`w: 0`, in the options or their `writeConcern`): the
 * server then answers nothing, so what the write applied cannot be known, and it is not recorded.
 */
export function isUnacknowledged(options: unknown): boolean {
  if (options === null || typeof options !== 'object') return false;
  const o = options as { w?: unknown; writeConcern?: { w?: unknown } | null };
  return (o.writeConcern?.w ?? o.w) === 0;
}
