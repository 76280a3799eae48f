import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { canonicalWindow, type QueryWindow } from '@tessera/core';
import type { StoreView } from '@tessera/store';
import { LRUCache } from 'lru-cache';
import { matchesIfNoneMatch } from './etag.js';
import type { ScanBudget, ScanSlot } from './scan-budget.js';

const HEAD = Buffer.from('{"data":{"events":[');
const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']},"error":null}');
const JSON_TYPE = 'application/json; charset=utf-8';

export interface SearchResponderOptions {
  store: StoreView;
  budget: ScanBudget;
  cacheMaxBytes: number;
  /** Larger answers are streamed from the scan and never cached. */
  cacheMaxEntryBytes: number;
  /** Events read in one turn of the event loop; an answer no larger is read at once. */
  sliceEvents?: number;
  /** Events read from the store (metrics). */
  onScanned?: (events: number) => void;
}

/** One /search request as the responder sees it: what it reads, and where it writes. */
export interface SearchExchange {
  method: string;
  ifNoneMatch: string | undefined;
  res: ServerResponse;
  /** Headers every answer carries (security headers, request id), as [name, value, …]. */
  headers: readonly string[];
  /** The answer is decided and about to be written with this status: nothing can fail it now but the connection. */
  begin(status: number): void;
  /** The answer failed after its headers were sent: the client gets a cut-off body. */
  fail(error: unknown): void;
}

/**
 * Answers /search by joining the store's pre-serialized events, never serializing an event
 * again. Answers are cached per (store id, version, window), which is also the ETag. An uncached
 * answer is read in slices, one per turn of the event loop, so that a large scan never stalls
 * the requests around it; past its first slice it needs a slot of the scan budget, which it holds
 * until the answer is fully sent or the client is gone. An answer larger than cacheMaxEntryBytes
 * is streamed with backpressure and not cached. Every way out (done, error, client gone, socket
 * timed out) closes the scan, and with it its LMDB snapshot and reader slot.
 */
export function createSearchResponder(options: SearchResponderOptions) {
  const { store, budget } = options;
  const sliceEvents = options.sliceEvents ?? 1_000;
  const onScanned = options.onScanned ?? (() => {});
  const cache =
    options.cacheMaxBytes > 0
      ? new LRUCache<string, Buffer>({
          maxSize: options.cacheMaxBytes,
          sizeCalculation: (b) => b.length,
        })
      : undefined;

  const etagFor = (window: QueryWindow): string => {
    const { storeId, version } = store.head();
    return `"${storeId}.${version}.${window.startsAt ?? ''}.${window.endsAt ?? ''}"`;
  };

  const send = (x: SearchExchange, etag: string, body: Buffer): void => {
    x.begin(200);
    x.res.writeHead(200, [
      ...x.headers,
      'Content-Type',
      JSON_TYPE,
      'Cache-Control',
      'no-cache',
      'ETag',
      etag,
      'Content-Length',
      String(body.length),
    ]);
    x.res.end(body); // Node leaves the body out of an answer to HEAD
  };

  const startStream = (x: SearchExchange, etag: string): void => {
    x.begin(200);
    x.res.writeHead(200, [
      ...x.headers,
      'Content-Type',
      JSON_TYPE,
      'Cache-Control',
      'no-cache',
      'ETag',
      etag,
    ]);
  };

  return {
    etagFor,

    /** Serves GET or HEAD /search; throws (before writing anything) only `overloaded`. */
    async respond(requested: QueryWindow, x: SearchExchange): Promise<void> {
      // Instants are whole seconds, so a bound's milliseconds cannot change the answer: one
      // cache entry and one ETag for every window that means the same events.
      const window = canonicalWindow(requested);
      const etag = etagFor(window);
      if (matchesIfNoneMatch(x.ifNoneMatch, etag)) {
        x.begin(304);
        x.res.writeHead(304, [...x.headers, 'Cache-Control', 'no-cache', 'ETag', etag]);
        x.res.end();
        return;
      }
      const cached = cache?.get(etag);
      if (cached !== undefined) return send(x, etag, cached);
      if (x.method === 'HEAD') {
        // The headers a GET would carry, without reading a single event.
        startStream(x, etag);
        x.res.end();
        return;
      }
      const scan = store.scan(window);
      let slot: ScanSlot | undefined;
      try {
        const body = new BodyParts();
        const done = readSlice(scan, body, sliceEvents, onScanned, budget.charge);
        if (!done || body.size > options.cacheMaxEntryBytes) {
          slot = budget.acquire();
          if (!(await readRest(scan, body, x, etag, slot))) return;
        }
        const bytes = body.join();
        if (bytes.length <= options.cacheMaxEntryBytes) cache?.set(etag, bytes);
        send(x, etag, bytes);
        // A large fresh answer keeps its slot until the client has it: a client that stops
        // reading holds one slot, not one per retry, until the idle timeout closes it.
        if (slot !== undefined) await finished(x.res).catch(() => {});
      } finally {
        scan.return?.();
        slot?.release();
      }
    },
  };

  /**
   * Reads the rest of a long answer a slice per turn. Returns true with the whole body in
   * `body`, or false when it streamed the answer itself (too large to cache) or the client left.
   */
  async function readRest(
    scan: Iterator<Buffer>,
    body: BodyParts,
    x: SearchExchange,
    etag: string,
    slot: ScanSlot,
  ): Promise<boolean> {
    let done = false;
    while (!done && body.size <= options.cacheMaxEntryBytes) {
      await nextTurn();
      if (x.res.destroyed) return false;
      done = readSlice(scan, body, sliceEvents, onScanned, slot.charge);
    }
    if (done && body.size <= options.cacheMaxEntryBytes) return true;
    startStream(x, etag);
    try {
      while (!done) {
        if (!(await write(x.res, body.take()))) return false;
        await nextTurn();
        if (x.res.destroyed) return false;
        done = readSlice(scan, body, sliceEvents, onScanned, slot.charge);
      }
      body.push(TAIL);
      x.res.end(body.take());
      await finished(x.res).catch(() => {});
    } catch (error) {
      x.fail(error);
      x.res.destroy();
    }
    return false;
  }
}

export type SearchResponder = ReturnType<typeof createSearchResponder>;

/** The answer's bytes so far: the head, events joined by commas, and (once complete) the tail. */
class BodyParts {
  parts: Buffer[] = [HEAD];
  size = HEAD.length;
  events = 0;

  push(part: Buffer): void {
    this.parts.push(part);
    this.size += part.length;
  }

  /** Everything so far, as one buffer to write; the parts start afresh. */
  take(): Buffer {
    const joined = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return joined;
  }

  join(): Buffer {
    this.push(TAIL);
    return this.take();
  }
}

/** Reads up to `limit` events into the body; true when the scan is exhausted. */
function readSlice(
  scan: Iterator<Buffer>,
  body: BodyParts,
  limit: number,
  onScanned: (events: number) => void,
  charge: (events: number) => void,
): boolean {
  let read = 0;
  let done = false;
  for (; read < limit; read++) {
    const next = scan.next();
    if (next.done === true) {
      done = true;
      break;
    }
    if (body.events++ > 0) body.push(COMMA);
    body.push(next.value);
  }
  onScanned(read);
  charge(read);
  return done;
}

/** Writes with backpressure; false if the client is gone (closed, or destroyed on timeout). */
async function write(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
  return !res.destroyed;
}
