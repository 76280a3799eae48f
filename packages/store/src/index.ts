export { MAX_READERS } from './layout.js';
export { STORE_ERROR_CODES, StoreError, type StoreErrorCode } from './store-error.js';
export { openStoreReader, type StoreReader } from './store-reader.js';
export type {
  ApplyCounts,
  FeedValidators,
  PollOutcome,
  StoreState,
} from './store-state.js';
export type { StoreView } from './store-view.js';
export {
  type FeedCommit,
  type FeedWriter,
  openStoreWriter,
  type RecordChange,
  type StoreWriter,
} from './store-writer.js';
