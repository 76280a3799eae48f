import { createFeedReader, createTimeZone, type EventRecord } from '@tessera/core';
import sax from 'sax';

/** What a feed document means, read the plain way: the reference the ingest path is held to. */
export interface WholeReading {
  /** Distinct records, the last occurrence of an id winning, in id order. */
  records: EventRecord[];
  /** Rejected records, counted by code. */
  rejected: Record<string, number>;
}

/**
 * Reads a whole feed document with plain sax (strict, only the predefined entities) into core's
 * feed reader: no splitter, no zone condenser, no workers, no HTTP. 'refused' when sax finds it
 * not well-formed.
 */
export function readWholeDocument(
  body: string,
  context: { provider: string; timeZone: string },
): WholeReading | 'refused' {
  const reader = createFeedReader({
    provider: context.provider,
    timeZone: createTimeZone(context.timeZone),
  });
  // strictEntities is a sax option its type definitions do not list.
  const parser = sax.parser(true, { strictEntities: true } as sax.SAXOptions);
  parser.onerror = (error) => {
    throw error;
  };
  parser.onopentag = (tag) =>
    reader.openElement(tag.name, tag.attributes as Record<string, string>);
  parser.onclosetag = (name) => reader.closeElement(name);
  try {
    parser.write(body).close();
  } catch {
    return 'refused';
  }
  const reading = reader.take();
  const byId = new Map(reading.records.map((r) => [r.id, r]));
  const rejected: Record<string, number> = {};
  for (const r of reading.rejections) rejected[r.code] = (rejected[r.code] ?? 0) + 1;
  return { records: [...byId.values()].sort((a, b) => a.id.localeCompare(b.id)), rejected };
}
