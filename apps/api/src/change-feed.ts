import type { ServerResponse } from 'node:http';
import type { ChangePosition, StoreView } from '@tessera/store';
import { ApiError } from './api-error.js';
import { issueChangeToken, openChangeToken } from './change-token.js';
import type { ChangesRequest } from './changes-query.js';
import { headerTemplate, withRequestId } from './common-headers.js';
import type { DirectExchange } from './direct-answer.js';

/** Changes a stream reads from the store at once. */
const STREAM_BATCH = 500;
/** How soon a stream's client reconnects after the connection ends (the SSE `retry` field). */
const RECONNECT_MS = 1_000;

export interface ChangeFeedOptions {
  store: StoreView;
  /** Streams and waiting long-polls this process serves at once; past it, `503 overloaded`. */
  maxSubscribers: number;
  /** A stream whose unsent bytes pass this is cut off (its client stopped reading). */
  bufferBytes: number;
  /** A comment line this often keeps idle streams open through proxies and the idle timeout. */
  heartbeatMs: number;
  /** How often the store's head is read while anyone waits for a change. */
  watchMs: number;
  metrics?: ChangeFeedMetrics;
}

export interface ChangeFeedMetrics {
  /** Subscribers (streams and waiting long-polls) came or went. */
  subscribers(delta: number): void;
  /** A stream was cut off because its client did not read. */
  cutOff(): void;
}

export interface ChangeFeed {
  /** GET /changes as JSON: the changes after `since`, waiting up to `waitMs` when there are none. */
  page(request: ChangesRequest, res: ServerResponse): Promise<string>;
  /** GET /changes as Server-Sent Events; resolves once the stream has ended. */
  stream(request: ChangesRequest, x: DirectExchange): Promise<void>;
  /** Ends every stream and answers every waiting long-poll now (shutdown). */
  close(): void;
}

/** Changes read once, as every answer that needs them writes them. */
interface ChangeBatch {
  count: number;
  /** The position and token of the last change; undefined when there is none. */
  last: ChangePosition | undefined;
  lastToken: string | undefined;
  /** The change objects, comma-separated (a JSON array's inside). */
  json: string;
  /** The same as SSE events, built when a stream first needs them. */
  events(): string;
}

/**
 * The change feed of one API process: long-polls and streams over the store's change log. The
 * store is the only source: nothing is queued per subscriber but what its socket has not taken,
 * so a subscriber costs a socket and a few hundred bytes, and one that is cut off resumes from
 * its last token with nothing lost. One timer reads the store's head while anyone waits, and
 * wakes them all when it moves; subscribers at the same position in the same turn share one
 * read and one serialization of the changes (a new batch reaches 1,000 subscribers as ten
 * reads, one per slice of a hundred).
 */
export function createChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const { store } = options;
  const metrics = options.metrics;
  const watcher = createHeadWatcher(store, options.watchMs);
  const read = createBatchReader(store);
  const endings = new Set<() => void>();
  let closed = false;
  let active = 0;

  const admit = (): (() => void) => {
    if (closed) {
      throw new ApiError('overloaded', 'this process is stopping: follow from another', {
        retryAfterSeconds: 1,
      });
    }
    if (active >= options.maxSubscribers) {
      throw new ApiError(
        'overloaded',
        `this process serves ${options.maxSubscribers} change subscribers already: retry, or use another`,
        { retryAfterSeconds: 1 },
      );
    }
    active++;
    metrics?.subscribers(1);
    return () => {
      active--;
      metrics?.subscribers(-1);
    };
  };

  const heartbeats = createHeartbeat(options.heartbeatMs);

  return {
    async page(request, res) {
      const { storeId } = store.head();
      const position = openChangeToken(storeId, request.since);
      let batch = read(storeId, position, request.limit);
      if (batch.count === 0 && request.waitMs > 0) {
        const leave = admit();
        try {
          batch = await waitForChanges(storeId, position, request, res);
        } finally {
          leave();
        }
      }
      const next = batch.lastToken ?? request.since;
      return `{"data":{"changes":[${batch.json}],"next":"${next}"},"error":null}`;
    },

    stream(request, x) {
      const { storeId } = store.head();
      const position = openChangeToken(storeId, request.since);
      // Refusals (expired, overloaded) are answered before the stream begins; the pump's first
      // read, in this same turn, is this one.
      read(storeId, position, STREAM_BATCH);
      const leave = admit();
      return serveStream(storeId, position, x).finally(leave);
    },

    close() {
      closed = true;
      for (const end of [...endings]) end();
    },
  };

  /** Waits for the head to move (or the wait, the client or the process to end), then reads. */
  async function waitForChanges(
    storeId: string,
    position: ChangePosition,
    request: ChangesRequest,
    res: ServerResponse,
  ): Promise<ChangeBatch> {
    const socket = res.socket;
    const idleMs = socket?.timeout ?? 0;
    // Nothing is written while the long-poll waits: the idle timeout counts from its end.
    if (idleMs > 0) socket?.setTimeout(idleMs + request.waitMs);
    const deadline = Date.now() + request.waitMs;
    try {
      for (;;) {
        const remaining = deadline - Date.now();
        if (remaining <= 0 || res.destroyed) return NO_CHANGES;
        const woken = await watcher.next(remaining, endings, res);
        if (store.head().storeId !== storeId) throw movedStore();
        const batch = read(storeId, position, request.limit);
        if (batch.count > 0 || !woken) return batch;
      }
    } finally {
      if (idleMs > 0 && socket?.destroyed === false) socket.setTimeout(idleMs);
    }
  }

  function serveStream(storeId: string, from: ChangePosition, x: DirectExchange): Promise<void> {
    x.begin(200);
    x.res.writeHead(200, withRequestId(STREAM_HEADERS, x.requestId));
    const output = createStreamOutput(x.res, options.bufferBytes, metrics);
    output.write(`retry: ${RECONNECT_MS}\n\n`, () => {});
    let position = from;

    /** The changes after the stream's position; undefined when the stream must end. */
    const nextBatch = (): ChangeBatch | undefined => {
      if (store.head().storeId !== storeId) return undefined;
      try {
        return read(storeId, position, STREAM_BATCH);
      } catch {
        // Expired behind a slow reader, or the store closing: the client reconnects and is told.
        return undefined;
      }
    };

    const pump = (): void => {
      while (output.ready()) {
        const batch = nextBatch();
        if (batch === undefined) {
          output.end();
          return;
        }
        if (batch.last === undefined) return;
        position = batch.last;
        if (!output.write(batch.events(), pump)) return;
        if (batch.count < STREAM_BATCH) return;
      }
    };

    const unwatch = watcher.listen(pump);
    const unbeat = heartbeats.add(() => {
      if (output.ready()) output.write(': heartbeat\n\n', pump);
    });
    const end = () => output.end();
    endings.add(end);
    pump();
    return new Promise<void>((resolve) => {
      x.res.once('close', () => {
        unwatch();
        unbeat();
        endings.delete(end);
        resolve();
      });
    });
  }
}

/**
 * The writing end of one event stream: backpressure (a write the socket does not take at once
 * waits for its drain before the next), and a bound on what the client leaves unread, past which
 * the stream is cut off.
 */
function createStreamOutput(res: ServerResponse, bufferBytes: number, metrics?: ChangeFeedMetrics) {
  let waitingForDrain = false;
  let ended = false;
  // A wake or heartbeat already scheduled in a later slice must not write to a closed stream.
  res.once('close', () => {
    ended = true;
  });
  return {
    /** Open, and taking writes now. */
    ready: (): boolean => !ended && !waitingForDrain,
    end(): void {
      if (ended) return;
      ended = true;
      res.end();
    },
    /** Writes `text`; false when the stream takes no more now (`onDrain` runs once it does). */
    write(text: string, onDrain: () => void): boolean {
      const flowing = res.write(text);
      if (res.writableLength > bufferBytes) {
        metrics?.cutOff();
        ended = true;
        res.destroy();
        return false;
      }
      if (!flowing) {
        waitingForDrain = true;
        res.once('drain', () => {
          waitingForDrain = false;
          onDrain();
        });
      }
      return flowing;
    },
  };
}

const STREAM_HEADERS = headerTemplate([
  'Content-Type',
  'text/event-stream; charset=utf-8',
  'Cache-Control',
  'no-cache',
  // nginx buffers proxied answers unless told otherwise: a stream must reach its client as written.
  'X-Accel-Buffering',
  'no',
]);

const NO_CHANGES: ChangeBatch = {
  count: 0,
  last: undefined,
  lastToken: undefined,
  json: '',
  events: () => '',
};

function movedStore(): ApiError {
  return new ApiError(
    'invalid_parameter',
    'the store was re-created while this request waited: list /search again',
  );
}

function expired(): ApiError {
  return new ApiError(
    'changes_expired',
    'the change log no longer reaches back to this token (see CHANGES_RETENTION): list /search again and follow from its Changes-Token',
  );
}

/**
 * Reads and serializes changes, once per (store, position, limit) and turn of the event loop:
 * the subscribers woken by one write all stand at the same position, and share the work.
 */
function createBatchReader(store: StoreView) {
  let held = new Map<string, ChangeBatch>();
  let clearing = false;
  return (storeId: string, position: ChangePosition, limit: number): ChangeBatch => {
    const key = `${storeId}\u0000${position[0]}\u0000${position[1]}\u0000${limit}`;
    let batch = held.get(key);
    if (batch !== undefined) return batch;
    batch = readBatch(store, storeId, position, limit);
    held.set(key, batch);
    if (!clearing) {
      clearing = true;
      setImmediate(() => {
        held = new Map();
        clearing = false;
      });
    }
    return batch;
  };
}

function readBatch(
  store: StoreView,
  storeId: string,
  position: ChangePosition,
  limit: number,
): ChangeBatch {
  const read = store.changes(position, limit);
  if (read.expired) throw expired();
  const tokens: string[] = [];
  const objects: string[] = [];
  for (const change of read.changes) {
    const token = issueChangeToken(storeId, change.position);
    tokens.push(token);
    objects.push(
      `{"token":"${token}","event":${change.summary},"feed":${JSON.stringify(change.feed)}}`,
    );
  }
  let events: string | undefined;
  return {
    count: objects.length,
    last: read.changes.at(-1)?.position,
    lastToken: tokens.at(-1),
    json: objects.join(','),
    events: () => (events ??= objects.map((o, i) => `id: ${tokens[i]}\ndata: ${o}\n\n`).join('')),
  };
}

/** Reads the store's head every `watchMs` while anyone listens, and tells them when it moves. */
function createHeadWatcher(store: StoreView, watchMs: number) {
  let seen = '';
  const headKey = (): string => {
    const { storeId, version } = store.head();
    return `${storeId}.${version}`;
  };
  const listeners = createTimedSet(watchMs, {
    started: () => {
      seen = headKey();
    },
    tick: (all) => {
      const key = headKey();
      if (key === seen) return;
      seen = key;
      inSlices(all, (listener) => listener());
    },
  });
  const listen = listeners.add;

  return {
    listen,
    /**
     * Resolves true when the head moves, false when `ms` pass, the client goes (its response
     * closes), or the feed closes (`endings` is where the feed's close finds it).
     */
    next(ms: number, endings: Set<() => void>, res: ServerResponse): Promise<boolean> {
      return new Promise<boolean>((resolve) => {
        const done = (moved: boolean) => () => {
          clearTimeout(timeout);
          unlisten();
          endings.delete(stop);
          res.off('close', stop);
          resolve(moved);
        };
        const stop = done(false);
        const timeout = setTimeout(stop, ms);
        const unlisten = listen(done(true));
        endings.add(stop);
        res.once('close', stop);
      });
    },
  };
}

/** Subscribers served in one turn of the event loop, before /search requests get theirs. */
const SLICE = 100;

/**
 * Calls `fn` on every item, SLICE per turn of the event loop: a thousand subscribers woken, or
 * given a heartbeat, at once would hold the loop for as long as a thousand socket writes take,
 * and every /search request arriving meanwhile would wait for them. Subscribers of one slice
 * share a read (see createBatchReader); the next slice, a turn later, reads again.
 */
function inSlices<T>(items: T[], fn: (item: T) => void, from = 0): void {
  const end = Math.min(items.length, from + SLICE);
  for (let i = from; i < end; i++) fn(items[i]!);
  if (end < items.length) setImmediate(() => inSlices(items, fn, end));
}

/** One timer for every stream's heartbeat. */
function createHeartbeat(intervalMs: number) {
  return createTimedSet(intervalMs, { tick: (beats) => inSlices(beats, (beat) => beat()) });
}

/**
 * A set of callbacks and one interval timer that runs while the set is not empty: `tick` gets
 * them all every `intervalMs`; `started` runs when the timer starts.
 */
function createTimedSet(
  intervalMs: number,
  on: { tick(all: Array<() => void>): void; started?(): void },
) {
  const members = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;
  return {
    /** Adds `member`; returns what removes it. */
    add(member: () => void): () => void {
      if (timer === undefined) {
        on.started?.();
        timer = setInterval(() => on.tick([...members]), intervalMs);
        timer.unref();
      }
      members.add(member);
      return () => {
        members.delete(member);
        if (members.size === 0 && timer !== undefined) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
  };
}
