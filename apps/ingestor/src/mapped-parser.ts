import type { MessagePort } from 'node:worker_threads';
import type { TimedReading } from './chunk-parser.js';
import type { FeedChunk } from './feed-chunk.js';
import { inOrder, type WaitTime } from './in-order-delivery.js';
import { IngestError } from './ingest-error.js';
import type { MappedAnswer, MappedRequest, MappedTask } from './mapped-worker.js';
import type { ParseTimes } from './parse-worker.js';
import type { ParserPool } from './parser-pool.js';

/** Pieces sent ahead of the worker's answers: the body keeps arriving while it parses. */
const MAX_IN_FLIGHT = 2;
const NO_TIMES: ParseTimes = { decodeMs: 0, condenseMs: 0, saxMs: 0, readMs: 0 };

/**
 * A mapped feed read as one stream on one thread (see mapped-worker.ts), yielding each piece's
 * reading in feed order, as the chunk parser does. Its faults are the document's
 * (`feed_malformed`, `feed_mismatch`) or, when the worker itself fails, ours
 * (`parse_worker_failed`). The worker's task and the feed's parse end with the iteration,
 * however it ends.
 */
export async function* parseMappedStream(
  pool: ParserPool,
  task: Omit<MappedTask, 'port'>,
  pieces: AsyncIterable<FeedChunk>,
  signal: AbortSignal,
  waited: WaitTime,
): AsyncGenerator<TimedReading> {
  const end = pool.begin();
  const { port, done } = pool.stream(task, signal);
  const worker = answersOf(port, done, signal);
  const ask = (chunk: FeedChunk | null): Promise<MappedAnswer> => {
    if (chunk === null) return worker.ask({ end: true }, []);
    // A copy the worker may own: the decoder's pieces can share Node's pooled buffers.
    const piece = new Uint8Array(chunk.bytes);
    return worker.ask({ piece }, [piece.buffer]);
  };
  let read = false;
  try {
    for await (const answer of inOrder(endMarked(pieces), ask, MAX_IN_FLIGHT, waited)) {
      if (!answer.ok) {
        throw new IngestError(
          answer.kind === 'mismatch' ? 'feed_mismatch' : 'feed_malformed',
          answer.message,
        );
      }
      yield { reading: answer.reading, times: NO_TIMES };
    }
    read = true;
  } finally {
    if (!read) port.close();
    await done.catch(() => {});
    await end();
  }
}

/** The pieces, then null for their end. */
async function* endMarked(pieces: AsyncIterable<FeedChunk>): AsyncGenerator<FeedChunk | null> {
  yield* pieces;
  yield null;
}

/**
 * The worker's answers, one per request, in order; every request still waiting fails with the
 * first failure of the port or of the worker's task.
 */
function answersOf(
  port: MessagePort,
  done: Promise<void>,
  signal: AbortSignal,
): { ask(message: MappedRequest, transfer: ArrayBuffer[]): Promise<MappedAnswer> } {
  const waiting: Array<PromiseWithResolvers<MappedAnswer>> = [];
  let failure: unknown;
  const fail = (cause: unknown): void => {
    failure ??= cause;
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };
  port.on('message', (answer: MappedAnswer) => waiting.shift()?.resolve(answer));
  port.on('close', () =>
    fail(new IngestError('parse_worker_failed', 'the parse worker ended the feed early')),
  );
  done.catch((cause: unknown) => {
    const message = cause instanceof Error ? cause.message : String(cause);
    fail(
      signal.aborted
        ? cause
        : new IngestError('parse_worker_failed', `a parse worker failed: ${message}`, { cause }),
    );
  });
  return {
    ask(message, transfer) {
      if (failure !== undefined) return Promise.reject(failure);
      const answer = Promise.withResolvers<MappedAnswer>();
      waiting.push(answer);
      port.postMessage(message, transfer);
      return answer.promise;
    },
  };
}
