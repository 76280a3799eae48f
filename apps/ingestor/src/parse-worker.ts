import { createFeedReader, createTimeZone, type FeedReading, type TimeZone } from '@tessera/core';
import { tokenizeXml } from './xml-tokenizer.js';

export interface ParseTask {
  /** Whole base elements, as cut by the FeedSplitter. */
  chunk: Uint8Array;
  provider: string;
  timeZone: string;
}

export type ParseResult = { ok: true; reading: FeedReading } | { ok: false; message: string };

const zones = new Map<string, TimeZone>();
const decoder = new TextDecoder('utf-8', { fatal: true });

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
    const text = decoder.decode(task.chunk);
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
