import type { FeedReading } from '@tessera/core';
import { createInOrderDelivery } from './in-order-delivery.js';
import { IngestError } from './ingest-error.js';
import type { ParseResult, ParseTask, ParseTimes } from './parse-worker.js';
import type { ParserPool } from './parser-pool.js';

export interface ChunkParser {
  /** Hands a chunk to the workers; waits while they are behind (backpressure). */
  submit(chunk: Buffer): Promise<void>;
  /** Waits until every chunk submitted is parsed and delivered; the feed's parse is over. */
  drain(): Promise<void>;
  /** Delivers nothing more: the poll has failed or stopped. */
  close(): Promise<void>;
}

/**
 * Parses chunks in the worker pool, at most two per thread in flight, and delivers each reading
 * as soon as it and every chunk before it are parsed, in feed order: records reach the store
 * while the rest of the feed is still arriving, however slowly. A chunk the worker refuses is a
 * document fault (`feed_malformed`); a worker that dies (out of memory, a crash) is ours
 * (`parse_worker_failed`).
 */
export function createChunkParser(
  pool: ParserPool,
  task: Omit<ParseTask, 'chunk'>,
  signal: AbortSignal,
  onReading: (reading: FeedReading, times: ParseTimes) => void | Promise<void>,
): ChunkParser {
  const delivery = createInOrderDelivery<ParseResult>((result) => {
    if (!result.ok) {
      throw new IngestError('feed_malformed', `feed is not well-formed: ${result.message}`);
    }
    return onReading(result.reading, result.times);
  }, pool.threads * 2);
  let end: (() => Promise<void>) | undefined;

  return {
    async submit(chunk) {
      end ??= pool.begin();
      const parsed = pool.parse({ chunk, ...task }, signal).catch((cause: unknown) => {
        // An abort is the poll's own doing; the caller reads it from the signal.
        if (signal.aborted) throw cause;
        const message = cause instanceof Error ? cause.message : String(cause);
        throw new IngestError('parse_worker_failed', `a parse worker failed: ${message}`, {
          cause,
        });
      });
      await delivery.add(parsed);
    },
    async drain() {
      await delivery.settled();
      await end?.();
    },
    async close() {
      delivery.stop();
      await end?.();
    },
  };
}
