import { createTimeZone, type FeedReading } from '@tessera/core';
import { compileMapping, createRecordStream, type Mapping } from '../src/index.js';

/**
 * Reads a whole document through the streaming reader in pieces of the given sizes (cycled),
 * so that tokens, strings and multi-byte characters are cut where a network would cut them.
 */
export function readDocument(
  mapping: Mapping,
  text: string,
  { provider = 'p', timeZone = 'Europe/Madrid', pieces = [7, 1, 64, 3] } = {},
): FeedReading {
  const stream = createRecordStream(
    compileMapping(mapping),
    { provider, timeZone: createTimeZone(timeZone) },
    { maxRecordChars: 1 << 20, maxDepth: 64 },
  );
  const all: FeedReading = { records: [], rejections: [], bases: 0, offline: 0 };
  const add = (r: FeedReading): void => {
    all.records.push(...r.records);
    all.rejections.push(...r.rejections);
    all.bases += r.bases;
    all.offline += r.offline;
  };
  for (let at = 0, i = 0; at < text.length; i++) {
    const size = pieces[i % pieces.length]!;
    stream.write(text.slice(at, at + size));
    add(stream.take());
    at += size;
  }
  stream.end();
  add(stream.take());
  return all;
}
