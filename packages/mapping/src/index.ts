export { DocumentError } from './document-error.js';
export {
  BUILT_IN_FORMAT,
  type CompiledMapping,
  compileMapping,
  describeFormat,
  type FeedFormat,
  type FieldName,
  type Mapping,
  MappingError,
  MappingSchema,
  parseFeedFormat,
} from './feed-format.js';
export { type ChunkPlan, chunkPlan, condensablePrices, readRecordChunk } from './record-chunks.js';
export type { MapContext } from './record-mapper.js';
export { createRecordStream, type RecordStream, type StreamLimits } from './record-stream.js';
export { vocabularyMapping } from './vocabulary-mapping.js';
