import { isUtf8 } from 'node:buffer';
import { createFeedReader, createTimeZone, type FeedReading, type TimeZone } from '@tessera/core';
import { tokenizeXml } from './xml-tokenizer.js';
import { condenseZones } from './zone-condenser.js';

export interface ParseTask {
  /** Whole base elements, as cut by the FeedSplitter. */
  chunk: Uint8Array;
  provider: string;
  timeZone: string;
}

export type ParseResult = { ok: true; reading: FeedReading } | { ok: false; message: string };

const zones = new Map<string, TimeZone>();

/**
 * Piscina worker: parses one chunk of base elements into event records and rejections. Zones
 * are folded into prices by the reader as sax passes them. Returns plain data, never throws.
 */
export default function parseChunk(task: ParseTask): ParseResult {
  let timeZone = zones.get(task.timeZone);
  if (timeZone === undefined) {
    timeZone = createTimeZone(task.timeZone);
    zones.set(task.timeZone, timeZone);
  }
  const reader = createFeedReader({ provider: task.provider, timeZone });
  try {
    const bytes = Buffer.from(task.chunk.buffer, task.chunk.byteOffset, task.chunk.byteLength);
    // Invalid UTF-8 is a document fault, not something to paper over with U+FFFD.
    if (!isUtf8(bytes)) throw new Error('the feed is not valid UTF-8');
    const text = condenseZones(bytes.toString('utf8'));
    // A synthetic root makes a run of sibling elements one document.
    tokenizeXml(`<chunk>${text}</chunk>`, {
      open: (name, attributes) => reader.openElement(name, attributes),
      close: (name) => reader.closeElement(name),
    });
  } catch (error) {
    return {
      ok: false,
      message: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '',
    };
  }
  return { ok: true, reading: reader.take() };
}
