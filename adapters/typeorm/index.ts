export { ActionLogSubscriber, type ActionLogSubscriberOptions } from './subscriber.js';
export { actionLogEntities, ActionLogMigration1763856000000 as ActionLogMigration, type SqlStoreDialect } from './store-entities.js';
export { SqlStore, type SqlStoreOptions } from 'actionlog';
export { AuditStamped, softRemoveWithReason } from './stamps.js';
