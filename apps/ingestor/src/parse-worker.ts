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
  /** Where runs of whole elements end in the chunk (see FeedChunk): each is read in turn. */
  runEnds?: readonly number[];
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
    const started = performance.now();
    const bytes = checkedBytes(task.chunk, times);
    // The reader's share is timed per element: after condensing there are few per event.
    const timed = (fn: () => void): void => {
      const start = performance.now();
      fn();
      times.readMs += performance.now() - start;
    };
    // A synthetic root makes a run of sibling elements one document.
    tokenizeXml(wrapped(condensedRuns(bytes, task.runEnds, condenseZones, times)), {
      open: (name, attributes) => timed(() => reader.openElement(name, attributes)),
      close: (name) => timed(() => reader.closeElement(name)),
    });
    const { decodeMs, condenseMs, readMs } = times;
    times.saxMs = performance.now() - started - decodeMs - condenseMs - readMs;
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
    const started = performance.now();
    const bytes = checkedBytes(task.chunk, times);
    const { mapping: compiledMapping, condense } = compiled(mapping);
    const ctx = { provider: task.provider, timeZone: zoneNamed(task.timeZone) };
    const limits = {
      maxRecordChars: task.maxElementBytes ?? Number.MAX_SAFE_INTEGER,
      maxDepth: MAX_DEPTH,
    };
    const runs = condensedRuns(bytes, task.runEnds, condense ?? unchanged, times);
    const reading = readRecordChunk(compiledMapping, runs, ctx, limits);
    times.readMs = performance.now() - started - times.decodeMs - times.condenseMs;
    return { ok: true, reading, times };
  } catch (error) {
    return {
      ok: false,
      message: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '',
    };
  }
}

/** The chunk's bytes, checked: invalid UTF-8 is a document fault, not something to paper over with U+FFFD. */
function checkedBytes(chunk: Uint8Array, times: ParseTimes): Buffer {
  const started = performance.now();
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (!isUtf8(bytes)) throw new Error('the feed is not valid UTF-8');
  times.decodeMs += performance.now() - started;
  return bytes;
}

const unchanged: RunCondenser = (xml) => xml;

/**
 * The chunk's runs (see FeedChunk), each decoded and condensed only when the reader asks for it,
 * so that one run's strings are garbage before the next is made; their times added to `times`.
 */
function* condensedRuns(
  bytes: Buffer,
  runEnds: readonly number[] = [],
  condense: RunCondenser,
  times: ParseTimes,
): Generator<string> {
  let from = 0;
  for (const end of [...runEnds, bytes.length]) {
    const started = performance.now();
    const decoded = bytes.toString('utf8', from, end);
    const decodedAt = performance.now();
    const text = condense(decoded);
    times.decodeMs += decodedAt - started;
    times.condenseMs += performance.now() - decodedAt;
    from = end;
    yield text;
  }
}

function* wrapped(runs: Iterable<string>): Generator<string> {
  yield '<chunk>';
  yield* runs;
  yield '</chunk>';
}
