import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ParseResult, ParseTask } from './parse-worker.js';

/**
 * The compiled CommonJS entry of the worker (see parse-worker-entry.cts). Resolved against the
 * package root so that it is the same file whether this module runs from dist/ or, under vitest,
 * from src/ (tests run after `build`).
 */
const WORKER_FILE = fileURLToPath(new URL('../dist/parse-worker-entry.cjs', import.meta.url));

export interface ParserPool {
  readonly threads: number;
  /** Resolves once every thread has loaded the worker. */
  warm(): Promise<void>;
  parse(task: ParseTask, signal?: AbortSignal): Promise<ParseResult>;
  close(): Promise<void>;
}

export interface ParserPoolOptions {
  threads: number;
  /** Each worker's V8 heap limit; a worker past it dies and its task fails. */
  maxHeapMb?: number;
  /** A worker that fails outside any task (at start, say); the pool replaces it. */
  onWorkerError?: (error: Error) => void;
}

export function createParserPool({
  threads,
  maxHeapMb = 256,
  onWorkerError,
}: ParserPoolOptions): ParserPool {
  const pool = new Piscina<ParseTask, ParseResult>({
    filename: WORKER_FILE,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    // Parsing makes short-lived garbage fast; a small young generation keeps each worker's heap,
    // and so the process's peak RSS, from growing with the feed.
    resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: maxHeapMb },
  });
  // Without a listener, a worker dying between tasks would be an unhandled 'error' event and
  // take the whole ingestor down; a worker dying during a task rejects that task instead.
  pool.on('error', (error: Error) => onWorkerError?.(error));
  // Each thread loads the worker's modules on its first task; doing that now keeps module loading
  // and the first compile out of the first poll.
  const empty = () => ({ chunk: new Uint8Array(0), provider: 'warm-up', timeZone: 'UTC' });
  const warm = Promise.allSettled(Array.from({ length: threads }, () => pool.run(empty())));
  return {
    threads,
    warm: () => warm.then(() => undefined),
    parse(task, signal) {
      // The chunk's buffer is moved, not copied, to the worker.
      return pool.run(task, { transferList: [task.chunk.buffer as ArrayBuffer], signal });
    },
    close: () => pool.destroy(),
  };
}
