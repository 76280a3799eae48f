export {
  type EventRecord,
  EventRecordSchema,
  type EventSummary,
  EventSummarySchema,
  NORMALIZATION_VERSION,
  type NormalizedEvent,
  toEventRecord,
} from './event.js';
export { eventIdFor } from './event-identity.js';
export { FEED_ID, isFeedId } from './feed-id.js';
export {
  createFeedReader,
  emptyReading,
  type FeedReader,
  type FeedReading,
  type RejectedRecord,
} from './feed-reader.js';
export { PriceRange, parsePrice } from './price.js';
export { type Attributes, isProviderId, MAX_TITLE_LENGTH } from './provider-record.js';
export {
  canonicalWindow,
  isInWindow,
  MAX_DATETIME_LENGTH,
  parseQueryWindow,
  type QueryWindow,
  startBounds,
} from './query-window.js';
export { type Rejection, type RejectionCode, reject } from './rejection.js';
export { LOG_LEVELS, parseSettings, SettingsError } from './settings.js';
export {
  CURRENT_VOCABULARY,
  OUTPUT_ELEMENT,
  VOCABULARIES,
  VOCABULARY_NAMES,
  type Vocabulary,
  type VocabularyName,
  vocabularyForRoot,
  vocabularyNamed,
  ZONE_ELEMENT,
} from './vocabulary.js';
export {
  createTimeZone,
  parseOffsetDateTime,
  parseWallClock,
  type TimeZone,
  type WallClock,
} from './wall-clock.js';
