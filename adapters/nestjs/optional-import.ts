/**
 * Imports an optional peer, or gives undefined when that package is not installed. Any other failure (the
 * package is there but broken, or one of its own dependencies is missing) is thrown.
 */
export async function optionalImport<T>(specifier: string, load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (error) {
    if (isMissing(error, specifier)) return undefined;
    throw error;
  }
}

/** Whether `error` says that `specifier` itself could not be found (not something it imports). */
function isMissing(error: unknown, specifier: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && (message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`));
}
