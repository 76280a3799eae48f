export { type Head, MAX_READERS } from './layout.js';
export { type ReplicationStatus, ReplicationStatusSchema } from './replication-status.js';
export { STORE_ERROR_CODES, StoreError, type StoreErrorCode } from './store-error.js';
export { openStoreReader, type StoreReader } from './store-reader.js';
export {
  type ApplyCounts,
  type FeedValidators,
  nextState,
  type PollOutcome,
  PollOutcomeSchema,
  type StoreState,
  StoreStateSchema,
} from './store-state.js';
export type { StoreView } from './store-view.js';
export {
  type ClusterPosition,
  type FeedCommit,
  type FeedSink,
  type FeedWriter,
  openStoreWriter,
  type RecordChange,
  type ReplicatedCommit,
  type StoreFeedWriter,
  type StoreWriter,
} from './store-writer.js';
