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

/** Where a chunk's time went in the worker, in ms: the poll adds them up (see PollReport). */
export interface ParseTimes {
  /** UTF-8 check and decoding. */
  decodeMs: number;
  condenseMs: number;
  /** sax tokenizing, without the reader's own time. */
  saxMs: number;
  /** The feed reader: validation, normalization, serialization of each event. */
  readMs: number;
}

export type ParseResult =
  | { ok: true; reading: FeedReading; times: ParseTimes }
  | { ok: false; message: string };

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
  const times: ParseTimes = { decodeMs: 0, condenseMs: 0, saxMs: 0, readMs: 0 };
  try {
    let at = performance.now();
    const lap = (): number => {
      const was = at;
      at = performance.now();
      return at - was;
    };
    const bytes = Buffer.from(task.chunk.buffer, task.chunk.byteOffset, task.chunk.byteLength);
    // Invalid UTF-8 is a document fault, not something to paper over with U+FFFD.
    if (!isUtf8(bytes)) throw new Error('the feed is not valid UTF-8');
    const decoded = bytes.toString('utf8');
    times.decodeMs = lap();
    const text = condenseZones(decoded);
    times.condenseMs = lap();
    // The reader's share is timed per element: after condensing there are few per event.
    const timed = (fn: () => void): void => {
      const start = performance.now();
      fn();
      times.readMs += performance.now() - start;
    };
    // A synthetic root makes a run of sibling elements one document.
    tokenizeXml(`<chunk>${text}</chunk>`, {
      open: (name, attributes) => timed(() => reader.openElement(name, attributes)),
      close: (name) => timed(() => reader.closeElement(name)),
    });
    times.saxMs = lap() - times.readMs;
  } catch (error) {
    return {
      ok: false,
      message: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '',
    };
  }
  return { ok: true, reading: reader.take(), times };
}
