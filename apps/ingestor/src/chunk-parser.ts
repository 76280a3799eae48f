import type { FeedReading } from '@tessera/core';
import type { FeedChunk } from './feed-chunk.js';
import { inOrder, type WaitTime } from './in-order-delivery.js';
import { IngestError } from './ingest-error.js';
import type { ParseResult, ParseTask, ParseTimes } from './parse-worker.js';
import type { ParserPool } from './parser-pool.js';

/** One chunk's (or one piece's) records and rejections, with where the worker's time went. */
export interface TimedReading {
  reading: FeedReading;
  times: ParseTimes;
}

/**
 * Parses chunks in the worker pool, at most two per thread in flight, and yields their readings
 * in feed order: records reach the stage while the rest of the feed is still arriving, and no
 * more than that window of readings is ever held. A chunk the worker refuses is a
 * document fault (`feed_malformed`); a worker that dies (out of memory, a crash) is ours
 * (`parse_worker_failed`). The feed's parse begins at the first chunk and ends with the
 * iteration, however it ends (see ParserPool.begin).
 */
export async function* parseChunks(
  pool: ParserPool,
  task: Omit<ParseTask, 'chunk' | 'runEnds'>,
  chunks: AsyncIterable<FeedChunk>,
  signal: AbortSignal,
  waited: WaitTime,
): AsyncGenerator<TimedReading> {
  let end: (() => Promise<void>) | undefined;
  const start = ({ bytes, runEnds }: FeedChunk): Promise<ParseResult> => {
    end ??= pool.begin();
    return parseChunk(pool, { chunk: bytes, runEnds, ...task }, signal);
  };
  try {
    for await (const result of inOrder(chunks, start, pool.threads * 2, waited)) {
      if (!result.ok) {
        throw new IngestError('feed_malformed', `feed is not well-formed: ${result.message}`);
      }
      yield { reading: result.reading, times: result.times };
    }
  } finally {
    await end?.();
  }
}

function parseChunk(pool: ParserPool, task: ParseTask, signal: AbortSignal): Promise<ParseResult> {
  return pool.parse(task, signal).catch((cause: unknown) => {
    // An abort is the poll's own doing; the caller reads it from the signal.
    if (signal.aborted) throw cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new IngestError('parse_worker_failed', `a parse worker failed: ${message}`, { cause });
  });
}
