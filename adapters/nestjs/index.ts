// actionlog/nestjs: the module, its options and the action decorator.
export { ActionLogModule } from './module.js';
export type {
  ActionLogModuleOptions,
  ActionLogModuleAsyncOptions,
  ActionLogIntegrations,
  ActionLogMongooseOptions,
  ActionLogTypeOrmOptions,
  NestHttpRequest,
} from './options.js';
export { AuditAction, AuditActionInterceptor, type AuditActionOptions } from './audit-action.js';
export { ActionLogger } from 'actionlog';
