import { NORMALIZATION_VERSION } from '@tessera/core';
import {
  BUILT_IN_FORMAT,
  type ChunkPlan,
  chunkPlan,
  compileMapping,
  describeFormat,
  type FeedFormat,
  type Mapping,
} from '@tessera/mapping';
import { createXXHash128 } from 'hash-wasm';
import type { FeedChunk } from './feed-chunk.js';
import { FeedDecoder } from './feed-encoding.js';
import { checkEnvelope } from './feed-envelope.js';
import { elementStart, FeedSplitter } from './feed-splitter.js';
import { JsonRecordSplitter } from './json-splitter.js';
import { checkMappedJsonEnvelope, checkMappedXmlEnvelope } from './mapped-envelope.js';

/** What cutting a feed needs to know of it. */
export interface SourceSettings {
  provider: string;
  timeZone: string;
  format: FeedFormat;
  chunkBytes: number;
  maxElementBytes: number;
  /** How long the runs a worker reads a chunk in are (see FeedChunk); tests cut them small. */
  runBytes?: number;
}

/** What reading the body took, in bytes and in the main thread's ms. */
export interface SourceStats {
  bytes: number;
  /** Waiting for the body's next piece. */
  fetchMs: number;
  /** Hashing, decoding and cutting it. */
  splitMs: number;
}

/** A feed's body, decoded and cut into the pieces its parser takes. */
export interface FeedSource {
  /** The pieces, as the body arrives; read once. */
  chunks: AsyncIterable<FeedChunk>;
  /** Once the pieces were read and parsed: checks what surrounds the records (throws). */
  check(): void;
  /**
   * Once the pieces were read: the feed's digest, of the body and of everything else that
   * shapes the stored records, so that a changed time zone, a new mapping or a new
   * normalization makes the same bytes a changed feed.
   */
  digest(): string;
}

/**
 * How a feed is cut and parsed. The built-in format, and a mapped one that can be cut into
 * chunks of whole records (see chunkPlan), are parsed by many threads; any other mapping is
 * read as one stream on one thread (plan undefined).
 */
export interface ReadingPlan {
  mapping: Mapping | undefined;
  plan: ChunkPlan | 'built-in';
}

export function readingPlan(format: FeedFormat): ReadingPlan {
  if (format === BUILT_IN_FORMAT) return { mapping: undefined, plan: 'built-in' };
  return { mapping: format, plan: chunkPlan(compileMapping(format)) };
}

/**
 * The body, hashed, decoded to UTF-8 and cut as `plan` says (the one the parser follows too);
 * `stats` is this source's own to write.
 *
 * The digest only tells a feed's bytes from the ones last applied, so it is XXH3's 128 bits
 * (hash-wasm, ~7 GB/s here) rather than SHA-256 (~1.8 GB/s in hardware): on the main thread,
 * beside the splitter and the stage, SHA-256 took 0.8 s of CPU per GB. An accidental collision
 * (2^-128) would skip one changed poll; a partner crafting one only withholds its own update.
 */
export async function feedSource(
  settings: SourceSettings,
  { plan }: ReadingPlan,
  { body, charset }: { body: AsyncIterable<Buffer>; charset: string | null },
  stats: SourceStats,
): Promise<FeedSource> {
  // Made ready to update (hash-wasm compiles its module once per process, then instantiates).
  const hash = await createXXHash128();
  hash.update(
    `${settings.provider}\u0000${settings.timeZone}\u0000${NORMALIZATION_VERSION}\u0000${formatDigest(settings.format)}`,
  );
  const cutter = createCutter(settings, plan);
  const decoder = new FeedDecoder(charset);
  /** The pieces a body piece makes (undefined: the body's end), hashed and counted. */
  const cut = (piece: Buffer | undefined): FeedChunk[] => {
    if (piece === undefined) {
      const rest = decoder.end();
      return [...(rest.length > 0 ? cutter.push(rest) : []), ...cutter.end()];
    }
    hash.update(piece);
    stats.bytes += piece.length;
    const utf8 = decoder.push(piece);
    return utf8.length > 0 ? cutter.push(utf8) : [];
  };
  async function* chunks(): AsyncGenerator<FeedChunk> {
    const iterator = body[Symbol.asyncIterator]();
    let done = false;
    try {
      while (!done) {
        const waiting = performance.now();
        const next = await iterator.next();
        const cutting = performance.now();
        stats.fetchMs += cutting - waiting;
        done = next.done === true;
        const pieces = cut(done ? undefined : next.value);
        stats.splitMs += performance.now() - cutting;
        for (const piece of pieces) yield piece;
      }
    } finally {
      // Stopped before the end (the poll failed downstream): the response is let go.
      if (!done) await iterator.return?.();
    }
  }
  return { chunks: chunks(), check: () => cutter.check(), digest: () => hash.digest('hex') };
}

/**
 * The built-in format adds nothing to the digest, so that its feeds' stored hashes stay valid
 * and an upgrade does not re-apply every unchanged feed.
 */
function formatDigest(format: FeedFormat): string {
  return format === BUILT_IN_FORMAT ? '' : `${describeFormat(format)}\u0000`;
}

/**
 * How the decoded body reaches the parser, and how what surrounds the records is checked at
 * the end: cut into chunks of whole elements or records, the rest checked as one document; or,
 * for a stream, passed on as it comes (its reader checks its own shape).
 */
interface FeedCutter {
  push(utf8: Buffer): FeedChunk[];
  end(): FeedChunk[];
  check(): void;
}

/** A stream's pieces, read as they come. */
const oneRun = (pieces: Buffer[]): FeedChunk[] => pieces.map((bytes) => ({ bytes, runEnds: [] }));

function createCutter(settings: SourceSettings, plan: ReadingPlan['plan']): FeedCutter {
  if (plan === 'built-in') {
    const splitter = new FeedSplitter(settings);
    return {
      push: (utf8) => splitter.push(utf8),
      end: () => splitter.end(),
      check: () => checkEnvelope(splitter.head, splitter.tail),
    };
  }
  if (plan === undefined) return { push: (utf8) => oneRun([utf8]), end: () => [], check: () => {} };
  if (plan.type === 'json') {
    const splitter = new JsonRecordSplitter(plan.keys, settings);
    return {
      push: (utf8) => splitter.push(utf8),
      end: () => splitter.end(),
      check: () => checkMappedJsonEnvelope(splitter.head, splitter.tail, splitter.found),
    };
  }
  const splitter = new FeedSplitter(settings, elementStart([plan.unit]));
  let units = false;
  const noted = (chunks: FeedChunk[]): FeedChunk[] => {
    units ||= chunks.length > 0;
    return chunks;
  };
  return {
    push: (utf8) => noted(splitter.push(utf8)),
    end: () => noted(splitter.end()),
    check: () => checkMappedXmlEnvelope(splitter.head, splitter.tail, plan.above, units),
  };
}
