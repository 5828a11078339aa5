import { createRequire } from 'node:module';
import { ActionLogConfigError } from '../../shared/errors.js';

/** A missing optional peer, said with the command that installs it. */
function missing(flag: string, packages: string[]): ActionLogConfigError {
  const list = packages.join(' and ');
  return new ActionLogConfigError(
    [{ path: flag, message: `needs the package${packages.length > 1 ? 's' : ''} ${list}: npm install ${packages.join(' ')}` }],
    'arguments',
  );
}

const isNotFound = (error: unknown) =>
  error instanceof Error && ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'].includes((error as { code?: string }).code ?? '');

/** Imports an optional peer (the database drivers are the application's), or says which to install. */
export async function importPeer<T>(load: () => Promise<T>, flag: string, packages: string[]): Promise<T> {
  const absent = packages.filter((name) => !resolvable(name));
  if (absent.length > 0) throw missing(flag, absent);
  try {
    return await load();
  } catch (error) {
    if (isNotFound(error)) throw missing(flag, packages);
    throw error;
  }
}

/** Whether a package can be found from here, as the packages that load it (TypeORM loads pg) would find it. */
function resolvable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    // An ESM-only package without a "require" condition still exists.
    return true;
  }
}
