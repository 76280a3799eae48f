import type { MessagePort } from 'node:worker_threads';
import type { FeedReading } from '@tessera/core';
import type { ChunkParser } from './chunk-parser.js';
import { createInOrderDelivery } from './in-order-delivery.js';
import { IngestError } from './ingest-error.js';
import type { MappedAnswer, MappedRequest, MappedTask } from './mapped-worker.js';
import type { ParseTimes } from './parse-worker.js';
import type { ParserPool } from './parser-pool.js';

/** Pieces sent ahead of the worker's answers: the body keeps arriving while it parses. */
const MAX_IN_FLIGHT = 2;
const NO_TIMES: ParseTimes = { decodeMs: 0, condenseMs: 0, saxMs: 0, readMs: 0 };

/**
 * A mapped feed's parser: the same contract as the chunk parser (submit with backpressure,
 * readings delivered in feed order as they are read, drain, close), over one streaming task
 * in the pool. Its faults are the document's (`feed_malformed`, `feed_mismatch`) or, when the
 * worker itself fails, ours (`parse_worker_failed`).
 */
export function createMappedParser(
  pool: ParserPool,
  task: Omit<MappedTask, 'port'>,
  signal: AbortSignal,
  onReading: (reading: FeedReading, times: ParseTimes) => void | Promise<void>,
): ChunkParser {
  let session: { port: MessagePort; done: Promise<void>; end: () => Promise<void> } | undefined;
  const waiting: Array<{ resolve: (answer: MappedAnswer) => void; reject: (e: unknown) => void }> =
    [];
  const delivery = createInOrderDelivery<MappedAnswer>((reply) => {
    if (!reply.ok) {
      const code = reply.kind === 'mismatch' ? 'feed_mismatch' : 'feed_malformed';
      throw new IngestError(code, reply.message);
    }
    return onReading(reply.reading, NO_TIMES);
  }, MAX_IN_FLIGHT);
  let failure: unknown;

  const fail = (cause: unknown): void => {
    failure ??= cause;
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };
  const open = () => {
    if (session !== undefined) return session;
    const end = pool.begin();
    const { port, done } = pool.stream(task, signal);
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
    session = { port, done: done.catch(() => {}), end };
    return session;
  };
  const request = (message: MappedRequest, transfer: ArrayBuffer[]): Promise<MappedAnswer> => {
    const { port } = open();
    if (failure !== undefined) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      port.postMessage(message, transfer);
    });
  };
  return {
    async submit(chunk) {
      // A copy the worker may own: the decoder's pieces can share Node's pooled buffers.
      const piece = new Uint8Array(chunk);
      await delivery.add(request({ piece }, [piece.buffer]));
    },
    async drain() {
      await delivery.add(request({ end: true }, []));
      await delivery.settled();
      await session?.done;
      await session?.end();
    },
    async close() {
      delivery.stop();
      session?.port.close();
      await session?.done;
      await session?.end();
    },
  };
}
