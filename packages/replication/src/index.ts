export { NatsServersSchema } from './cluster-settings.js';
export { FEED_STREAM } from './feed-message.js';
export { type Replication, type ReplicationOptions, startReplication } from './replication.js';
export {
  REPLICATION_ERROR_CODES,
  ReplicationError,
  type ReplicationErrorCode,
} from './replication-error.js';
export {
  REPLICATION_FILE,
  type ReplicationStatus,
  ReplicationStatusSchema,
  readReplicationStatus,
  writeReplicationStatus,
} from './replication-status.js';
