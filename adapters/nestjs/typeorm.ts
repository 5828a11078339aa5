import type { ModulesContainer } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { ActionLogConfigError, type ActionLogger } from 'actionlog';
import { optionalImport } from './optional-import.js';
import type { ActionLogTypeOrmOptions } from './options.js';
import { hasProvider } from './providers.js';

const WHAT = 'ActionLogModule options';

/**
 * Adds an ActionLogSubscriber to each data source `@nestjs/typeorm` created, once Nest has built them and before
 * the application starts (TypeORM's `subscribers` option takes classes, so the instance goes on the data source).
 */
export async function bindTypeOrm(
  options: ActionLogTypeOrmOptions | false | undefined,
  logger: ActionLogger,
  modules: ModulesContainer,
  dataSourceOf: (token: string | object) => DataSource,
): Promise<void> {
  if (options === false) return;
  const nest = await optionalImport('@nestjs/typeorm', () => import('@nestjs/typeorm'));
  if (!nest) {
    if (options) throw new ActionLogConfigError([{ path: 'typeorm', message: '@nestjs/typeorm is not installed' }], WHAT);
    return;
  }
  const { dataSources, ...subscriberOptions } = options ?? {};
  const wanted = (dataSources ?? [undefined]).map((name) => ({ name: name ?? 'default', token: nest.getDataSourceToken(name) }));
  const missing = wanted.filter(({ token }) => !hasProvider(modules, token));
  if (options && missing.length > 0) {
    const list = missing.map(({ name }) => name).join(', ');
    throw new ActionLogConfigError([{ path: 'typeorm.dataSources', message: `no @nestjs/typeorm data source named ${list}` }], WHAT);
  }
  if (missing.length === wanted.length) return;

  const { ActionLogSubscriber, isActionLogSubscriber } = await import('actionlog/typeorm');
  for (const { name, token } of wanted) {
    if (missing.some((m) => m.token === token)) continue;
    const dataSource = dataSourceOf(token);
    if (dataSource.subscribers.some(isActionLogSubscriber)) {
      throw new ActionLogConfigError(
        [{ path: 'typeorm', message: `the data source "${name}" already has an ActionLogSubscriber: remove it, or set typeorm: false` }],
        WHAT,
      );
    }
    dataSource.subscribers.push(new ActionLogSubscriber(logger, subscriberOptions));
  }
}
