import { isUtf8 } from 'node:buffer';
import { createFeedReader, createTimeZone, type FeedReading, type TimeZone } from '@tessera/core';
import {
  type CompiledMapping,
  compileMapping,
  condensablePrices,
  type Mapping,
  readRecordChunk,
} from '@tessera/mapping';
import { MAX_DEPTH, tokenizeXml } from './xml-tokenizer.js';
import { condenseZones, createRunCondenser, type RunCondenser } from './zone-condenser.js';

export interface ParseTask {
  /** Whole base elements, as cut by the FeedSplitter. */
  chunk: Uint8Array;
  provider: string;
  timeZone: string;
  /** A mapped feed's chunk (see chunkPlan): whole records of its own format. */
  mapping?: Mapping;
  /** The largest record a mapped chunk may hold. */
  maxElementBytes?: number;
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
const mappings = new Map<
  string,
  { mapping: CompiledMapping; condense: RunCondenser | undefined }
>();

function zoneNamed(name: string): TimeZone {
  let zone = zones.get(name);
  if (zone === undefined) {
    zone = createTimeZone(name);
    zones.set(name, zone);
  }
  return zone;
}

/** Compiled once per thread (every chunk of a feed brings the same mapping), with its condenser. */
function compiled(raw: Mapping): { mapping: CompiledMapping; condense: RunCondenser | undefined } {
  const key = JSON.stringify(raw);
  let found = mappings.get(key);
  if (found === undefined) {
    const mapping = compileMapping(raw);
    const prices = condensablePrices(mapping);
    const condense =
      prices === undefined ? undefined : createRunCondenser(prices.element, prices.attribute);
    found = { mapping, condense };
    mappings.set(key, found);
  }
  return found;
}

/**
 * Piscina worker: parses one chunk of base elements into event records and rejections. Zones
 * are folded into prices by the reader as sax passes them. Returns plain data, never throws.
 */
export default function parseChunk(task: ParseTask): ParseResult {
  if (task.mapping !== undefined) return parseMappedChunk(task, task.mapping);
  const timeZone = zoneNamed(task.timeZone);
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

/** A mapped feed's chunk: decoded, then read through the mapping (see readRecordChunk). */
function parseMappedChunk(task: ParseTask, mapping: Mapping): ParseResult {
  const times: ParseTimes = { decodeMs: 0, condenseMs: 0, saxMs: 0, readMs: 0 };
  try {
    let at = performance.now();
    const bytes = Buffer.from(task.chunk.buffer, task.chunk.byteOffset, task.chunk.byteLength);
    if (!isUtf8(bytes)) throw new Error('the feed is not valid UTF-8');
    const decoded = bytes.toString('utf8');
    times.decodeMs = performance.now() - at;
    at = performance.now();
    const { mapping: compiledMapping, condense } = compiled(mapping);
    const text = condense === undefined ? decoded : condense(decoded);
    times.condenseMs = performance.now() - at;
    at = performance.now();
    const ctx = { provider: task.provider, timeZone: zoneNamed(task.timeZone) };
    const limits = {
      maxRecordChars: task.maxElementBytes ?? Number.MAX_SAFE_INTEGER,
      maxDepth: MAX_DEPTH,
    };
    const reading = readRecordChunk(compiledMapping, text, ctx, limits);
    times.readMs = performance.now() - at;
    return { ok: true, reading, times };
  } catch (error) {
    return {
      ok: false,
      message: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '',
    };
  }
}
