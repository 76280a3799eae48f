import { fileURLToPath } from 'node:url';
import { isMarkedAsUntransferable, MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { MappedTask } from './mapped-worker.js';
import type { ParseResult, ParseTask } from './parse-worker.js';

type Task = ParseTask | MappedTask;
type Result = ParseResult | undefined;

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
  /**
   * A feed's parse begins; call the returned function once it is over (idempotent). When the
   * last parse in progress ends and the threads have parsed a large feed's worth since they
   * started, they are stopped before the caller goes on, and started again at the next parse.
   */
  begin(): () => Promise<void>;
  /**
   * Parses a chunk in a worker. The chunk's whole ArrayBuffer is moved there (no copy): no other
   * view on it may be used afterwards.
   */
  parse(task: ParseTask, signal?: AbortSignal): Promise<ParseResult>;
  /**
   * Starts a mapped feed's parse on one thread, fed through the returned port (see
   * mapped-worker.ts); `done` settles when the worker's task ends.
   */
  stream(
    task: Omit<MappedTask, 'port'>,
    signal?: AbortSignal,
  ): { port: MessagePort; done: Promise<void> };
  close(): Promise<void>;
}

export interface ParserPoolOptions {
  threads: number;
  /** Each worker's V8 heap limit; a worker past it dies and its task fails. */
  maxHeapMb?: number;
  /** Bytes parsed after which the threads are stopped when idle (see `begin`). */
  releaseAfterBytes?: number;
  /** A worker that fails outside any task (at start, say); the pool replaces it. */
  onWorkerError?: (error: Error) => void;
}

/**
 * Parsing a large feed leaves each worker's heap grown by its garbage (~30 MiB a thread for a
 * 1 GB feed), and V8 keeps it. The apply that follows the parse adds its own dirty pages in
 * proportion to the feed, so a large feed's threads are stopped first: the whole process then
 * peaks at the larger of the two phases, not their sum. Starting two threads again costs
 * ~150 ms, small beside the seconds a feed this size takes; smaller feeds keep warm threads.
 */
const RELEASE_AFTER_BYTES = 64 * 1024 ** 2;

export function createParserPool({
  threads,
  maxHeapMb = 256,
  releaseAfterBytes = RELEASE_AFTER_BYTES,
  onWorkerError,
}: ParserPoolOptions): ParserPool {
  const start = (): Piscina<Task, Result> => {
    const started = new Piscina<Task, Result>({
      filename: WORKER_FILE,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      // Parsing makes short-lived garbage fast; a small young generation keeps each worker's
      // heap, and so the process's peak RSS, from growing with the feed (8 → 2 MiB: ~7 MiB less
      // at the 1 GB ingest's peak, a few per cent slower).
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: maxHeapMb },
    });
    // Without a listener, a worker dying between tasks would be an unhandled 'error' event and
    // take the whole ingestor down; a worker dying during a task rejects that task instead.
    started.on('error', (error: Error) => onWorkerError?.(error));
    return started;
  };
  let pool: Piscina<Task, Result> | undefined = start();
  let parsing = 0;
  let parsedBytes = 0;
  const running = (): Piscina<Task, Result> => {
    pool ??= start();
    return pool;
  };
  const release = async (): Promise<void> => {
    const stopping = pool;
    pool = undefined;
    parsedBytes = 0;
    await stopping?.destroy();
  };

  // Each thread loads the worker's modules on its first task; doing that now keeps module loading
  // and the first compile out of the first poll.
  const empty = () => ({ chunk: new Uint8Array(0), provider: 'warm-up', timeZone: 'UTC' });
  const warm = Promise.allSettled(Array.from({ length: threads }, () => running().run(empty())));
  return {
    threads,
    warm: () => warm.then(() => undefined),
    begin() {
      parsing += 1;
      let ended = false;
      return async () => {
        if (ended) return;
        ended = true;
        parsing -= 1;
        if (parsing === 0 && parsedBytes >= releaseAfterBytes) await release();
      };
    },
    parse(task, signal) {
      parsedBytes += task.chunk.byteLength;
      const chunk = movable(task.chunk);
      return running().run(
        { ...task, chunk },
        { transferList: transfer(chunk.buffer), signal },
      ) as Promise<ParseResult>;
    },
    stream(task, signal) {
      const { port1, port2 } = new MessageChannel();
      const done = running()
        .run({ ...task, port: port2 }, { transferList: transfer(port2), signal })
        .then(() => undefined);
      return { port: port1, done };
    },
    close: release,
  };
}

/**
 * The chunk as bytes the worker can be given without a copy: the chunk itself, whose whole
 * ArrayBuffer moves to the worker (the splitter hands over buffers nothing else uses, the carry
 * copied out first), unless that buffer may not move: Node's pool slabs (the small Buffers of
 * `Buffer.from`) are marked untransferable, which Node >= 21 refuses with a DataCloneError where
 * 20 copied silently. Those, and shared memory, are copied.
 */
function movable(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
  const { buffer } = chunk;
  if (buffer instanceof ArrayBuffer && !isMarkedAsUntransferable(buffer)) {
    return chunk as Uint8Array<ArrayBuffer>;
  }
  return new Uint8Array(chunk);
}

type TransferList = NonNullable<Parameters<Piscina['run']>[1]>['transferList'];

/**
 * Piscina derives its transfer-list type from MessagePort.postMessage's last overload, which in
 * @types/node ≥ 22 is the options form; the list form it passes on is the one Node documents.
 */
const transfer = (movable: ArrayBuffer | MessagePort): TransferList =>
  [movable] as unknown as TransferList;
