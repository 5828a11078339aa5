import type { InjectionToken } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';

/** Whether some module of the application provides `token` (before or after it is built). */
export function hasProvider(modules: ModulesContainer, token: InjectionToken): boolean {
  for (const module of modules.values()) if (module.providers.has(token)) return true;
  return false;
}
