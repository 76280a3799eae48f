export { type EventRun, type RunScan, runsOfEvents } from './block-scan.js';
export {
  type ChangeRead,
  type ChangeRetention,
  ChangeRetentionSchema,
  DEFAULT_CHANGE_RETENTION,
  type StoredChange,
} from './change-log.js';
export type { FeedStage } from './feed-stage.js';
export {
  type ChangePosition,
  comparePositions,
  type Digest,
  DigestSum,
  EMPTY_DIGEST,
  END_OF_VERSION,
  type EventKey,
  endOfVersion,
  type Head,
  MAX_READERS,
  recordDigest,
} from './layout.js';
export { type BackupReport, backupStore } from './store-backup.js';
export { STORE_ERROR_CODES, StoreError, type StoreErrorCode } from './store-error.js';
export { openStoreReader, type StoreReader } from './store-reader.js';
export {
  type ApplyCounts,
  changedAnything,
  type FeedRecord,
  type FeedState,
  FeedStateSchema,
  type FeedValidators,
  INITIAL_STATE,
  MAX_RUNS,
  nextState,
  type PollOutcome,
  PollOutcomeSchema,
  type PollRun,
} from './store-state.js';
export type {
  EventScan,
  FeedView,
  ScanPosition,
  StoredEvent,
  StoreView,
} from './store-view.js';
export {
  type FeedCommit,
  openStoreWriter,
  type PollCommit,
  type RecordChange,
  type RecordInspection,
  type SourcedCommit,
  type SourceMark,
  type StoreWriter,
} from './store-writer.js';
