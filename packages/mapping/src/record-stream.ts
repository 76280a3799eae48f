import type { FeedReading } from '@tessera/core';
import type { CompiledMapping } from './feed-format.js';
import { createJsonRecordStream } from './json-records.js';
import type { MapContext } from './record-mapper.js';
import { createXmlRecordStream } from './xml-records.js';

/**
 * A mapped document read as it arrives: text in, events out, with memory bounded by one record
 * (JSON) or one record's enclosing element (XML, as far up as the mapping's `../` reach).
 * Throws a DocumentError for a document it cannot read.
 */
export interface RecordStream {
  write(text: string): void;
  /** The document is complete: checks it ended where it should. */
  end(): void;
  /** What the records read since the last call yielded; starts afresh. */
  take(): FeedReading;
}

export interface StreamLimits {
  /** The largest record (or enclosing element) accepted, in UTF-16 code units of its text. */
  maxRecordChars: number;
  /** Deeper nesting than this is a malformed document. */
  maxDepth: number;
}

export function createRecordStream(
  mapping: CompiledMapping,
  ctx: MapContext,
  limits: StreamLimits,
): RecordStream {
  return mapping.type === 'json'
    ? createJsonRecordStream(mapping, ctx, limits)
    : createXmlRecordStream(mapping, ctx, limits);
}
