import { installPersistenceHooks, installQueryWriteHooks, installSubscriberInstances } from './patches.js';
import { captureQueryWrite, isActionLogSubscriber, recorderFor } from './query-writes.js';

// Once per process, when this entry is loaded: write statements reach the capture (see patches.ts).
installQueryWriteHooks(recorderFor, captureQueryWrite);
installPersistenceHooks();
installSubscriberInstances(isActionLogSubscriber);

export { ActionLogSubscriber, type ActionLogSubscriberOptions } from './subscriber.js';
export { isActionLogSubscriber } from './query-writes.js';
export {
  actionLogEntities,
  actionLogMigrations,
  ActionLogMigrations,
  type ActionLogTableNames,
  type SqlStoreDialect,
} from './store-entities.js';
export { SqlStore, type SqlStoreOptions } from 'actionlog';
export { AuditStamped, softRemoveWithReason } from './stamps.js';
export { approve, approveDelete, rejectApproval, rejectDelete, requestApproval, requestDelete } from './workflow.js';
