import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { canonicalWindow, type QueryWindow } from '@tessera/core';
import {
  type EventRun,
  endOfVersion,
  type Head,
  type RunScan,
  runsOfEvents,
  type ScanPosition,
  type StoreView,
} from '@tessera/store';
import { LRUCache } from 'lru-cache';
import { issueChangeToken } from './change-token.js';
import { withRequestId } from './common-headers.js';
import {
  answerNotModified,
  type DirectExchange,
  jsonAnswerHeaders,
  sendAnswer,
} from './direct-answer.js';
import type { PageCursors } from './page-cursor.js';
import type { ScanBudget, ScanSlot } from './scan-budget.js';
import type { PageRequest, SearchRequest } from './search-query.js';

const HEAD = Buffer.from('{"data":{"events":[');
const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']},"error":null}');
/** The position in the change log an answer is consistent with: follow /changes from it. */
export const CHANGES_TOKEN = 'Changes-Token';

export interface SearchResponderOptions {
  store: StoreView;
  budget: ScanBudget;
  cursors: PageCursors;
  cacheMaxBytes: number;
  /** Larger answers are not cached. */
  cacheMaxEntryBytes: number;
  /** Events read in one turn of the event loop; an answer no larger is read at once. */
  sliceEvents?: number;
  /** Events read from the store (metrics). */
  onScanned?: (events: number) => void;
}

/** One /search request as the responder sees it: what it reads, and where it writes. */
export interface SearchExchange extends DirectExchange {
  method: string;
  /** The answer failed after its headers were sent: the client gets a cut-off body. */
  fail(error: unknown): void;
}

/**
 * The store's head, read once per turn of the event loop: lmdb-js reads one snapshot per turn
 * anyway, so every request of a turn would read the same.
 */
function headPerTurn(store: StoreView): () => Head {
  let head: Head | undefined;
  const forget = (): void => {
    head = undefined;
  };
  return () => {
    if (head === undefined) {
      head = store.head();
      setImmediate(forget);
    }
    return head;
  };
}

/** The Changes-Token of the snapshot an answer is read from, made once per version, not per request. */
function changesTokenPerVersion(): (storeId: string, version: number) => string {
  let token = { storeId: '', version: -1, value: '' };
  return (storeId, version) => {
    if (token.storeId !== storeId || token.version !== version) {
      token = { storeId, version, value: issueChangeToken(storeId, endOfVersion(version)) };
    }
    return token.value;
  };
}

/**
 * Answers /search by joining the store's pre-serialized events, never serializing an event
 * again. Answers are cached per (store id, version, window), which is also the ETag. An uncached
 * answer is read in slices, one per turn of the event loop, so that a large scan never stalls
 * the requests around it; past its first slice it needs a slot of the scan budget, and is
 * streamed with backpressure as it is read, holding its slot until it is fully sent or the client
 * is gone; it is cached if no larger than cacheMaxEntryBytes. Every way out (done, error, client
 * gone, socket timed out) closes the scan, and with it its LMDB snapshot and reader slot.
 */
export function createSearchResponder(options: SearchResponderOptions) {
  const { store, budget } = options;
  const sliceEvents = options.sliceEvents ?? 1_000;
  const onScanned = options.onScanned ?? (() => {});
  // A cached answer keeps its body with the headers it goes out with (its ETag and length
  // included): serving it is one copy of a header list, one writeHead, one end.
  const cache =
    options.cacheMaxBytes > 0
      ? new LRUCache<string, Answer>({
          maxSize: options.cacheMaxBytes,
          sizeCalculation: (a) => a.body.length,
        })
      : undefined;

  const currentHead = headPerTurn(store);
  const scratch = new Scratch();
  const changesTokenFor = changesTokenPerVersion();

  const etagFor = (window: QueryWindow, page?: PageRequest): string => {
    const { storeId, version } = currentHead();
    const whole = `${storeId}.${version}.${window.startsAt ?? ''}.${window.endsAt ?? ''}`;
    return page === undefined ? `"${whole}"` : `"${whole}.${page.limit}.${page.cursor ?? ''}"`;
  };

  /** `changesToken`: the Changes-Token of the snapshot the body was read from. */
  const answerOf = (etag: string, changesToken: string, body: Buffer, link?: string): Answer => ({
    body,
    headers: jsonAnswerHeaders(etag, body.length, [
      CHANGES_TOKEN,
      changesToken,
      ...(link === undefined ? [] : ['Link', link]),
    ]),
  });

  const send = (x: SearchExchange, answer: Answer): void =>
    sendAnswer(x, answer.headers, answer.body);

  const startStream = (x: SearchExchange, etag: string, changesToken: string): void => {
    x.begin(200);
    x.res.writeHead(
      200,
      withRequestId(jsonAnswerHeaders(etag, undefined, [CHANGES_TOKEN, changesToken]), x.requestId),
    );
  };

  return {
    etagFor,

    /**
     * Serves GET or HEAD /search; throws (before writing anything) only `overloaded`, and
     * `invalid_parameter` for a cursor this store did not issue. A cached answer (the hot path)
     * is written at once and nothing is returned; an uncached one returns a promise that settles
     * when it is sent.
     */
    respond(request: SearchRequest, x: SearchExchange): Promise<void> | undefined {
      // Instants are whole seconds, so a bound's milliseconds cannot change the answer: one
      // cache entry and one ETag for every window that means the same events.
      const window = canonicalWindow(request.window);
      const etag = etagFor(window, request.page);
      if (answerNotModified(x, etag)) return undefined;
      const cached = cache?.get(etag);
      if (cached !== undefined) {
        send(x, cached);
        return undefined;
      }
      // A page's headers name the next page, so even HEAD reads it (at most `limit` events).
      if (request.page !== undefined) return pageAndSend(window, request.page, etag, x);
      if (x.method === 'HEAD') {
        // The headers a GET would carry, without reading a single event.
        const { storeId, version } = currentHead();
        startStream(x, etag, changesTokenFor(storeId, version));
        x.res.end();
        return undefined;
      }
      return scanAndSend(window, etag, x);
    },
  };

  /**
   * Reads one page (in slices, as a long answer is: past its first slice it needs a scan slot),
   * then sends it whole, with its length and, when more events remain, the next page's link.
   */
  async function pageAndSend(
    window: QueryWindow,
    page: PageRequest,
    etag: string,
    x: SearchExchange,
  ): Promise<void> {
    const { storeId, version } = currentHead();
    const position: ScanPosition | undefined =
      page.cursor === undefined ? undefined : options.cursors.open(storeId, window, page.cursor);
    const scan = store.scan(window, position);
    // A page ends at an event, not at a block: read one event at a time.
    const runs = runsOfEvents(scan);
    let slot: ScanSlot | undefined;
    try {
      const body = new BodyParts(scratch);
      let done = readSlice(runs, body, Math.min(page.limit, sliceEvents), onScanned, budget.charge);
      while (!done && body.events < page.limit) {
        slot ??= budget.acquire();
        await nextTurn();
        const wanted = Math.min(page.limit - body.events, sliceEvents);
        done = readSlice(runs, body, wanted, onScanned, slot.charge);
      }
      const last = scan.lastKey();
      const more = !done && last !== undefined && scan.next().done !== true;
      const next = more
        ? options.cursors.issue(storeId, window, {
            after: last,
            movedSince: position?.movedSince ?? version,
          })
        : undefined;
      // Every page carries the first page's token: the pages after it leave out what moved since
      // (see ScanPosition), and the changes after that token bring it.
      const changesToken = changesTokenFor(storeId, position?.movedSince ?? version);
      const answer = answerOf(etag, changesToken, body.join(), next && linkTo(page, next));
      if (answer.body.length <= options.cacheMaxEntryBytes) cache?.set(etag, answer);
      send(x, answer);
    } finally {
      scan.return?.();
      slot?.release();
    }
  }

  async function scanAndSend(window: QueryWindow, etag: string, x: SearchExchange): Promise<void> {
    const { storeId, version } = currentHead();
    const changesToken = changesTokenFor(storeId, version);
    const scan = store.runs(window);
    let slot: ScanSlot | undefined;
    try {
      const body = new BodyParts(scratch);
      if (readSlice(scan, body, sliceEvents, onScanned, budget.charge)) {
        // The whole answer in one slice (a small window, the common case): sent with its length.
        const answer = answerOf(etag, changesToken, body.join());
        if (answer.body.length <= options.cacheMaxEntryBytes) cache?.set(etag, answer);
        send(x, answer);
        return;
      }
      slot = budget.acquire();
      await streamRest(scan, body, x, etag, changesToken, slot);
    } finally {
      scan.return?.();
      slot?.release();
    }
  }

  /**
   * Sends a long answer as it is read, a slice per turn, with backpressure: the client has its
   * first bytes after one slice, and the idle timeout measures the client, never the scan. What
   * is sent is kept for the cache while it fits. Returns once the client has it all or is gone:
   * a client that stops reading holds its slot (one, not one per retry) until the idle timeout
   * closes it.
   */
  async function streamRest(
    scan: RunScan,
    body: BodyParts,
    x: SearchExchange,
    etag: string,
    changesToken: string,
    slot: ScanSlot,
  ): Promise<void> {
    let kept: Buffer[] | undefined = [];
    let keptBytes = 0;
    const next = (): Buffer => {
      const chunk = body.take();
      if (kept !== undefined) {
        keptBytes += chunk.length;
        if (keptBytes <= options.cacheMaxEntryBytes) kept.push(chunk);
        else kept = undefined;
      }
      return chunk;
    };
    startStream(x, etag, changesToken);
    try {
      let done = false;
      while (!done) {
        if (!(await write(x.res, next()))) return;
        await nextTurn();
        if (x.res.destroyed) return;
        done = readSlice(scan, body, sliceEvents, onScanned, slot.charge);
      }
      body.push(TAIL);
      x.res.end(next());
      if (kept !== undefined) {
        cache?.set(etag, answerOf(etag, changesToken, Buffer.concat(kept, keptBytes)));
      }
      await finished(x.res).catch(() => {});
    } catch (error) {
      x.fail(error);
      x.res.destroy();
    }
  }
}

export type SearchResponder = ReturnType<typeof createSearchResponder>;

interface Answer {
  body: Buffer;
  /** The headers it goes out with, the request id's slot empty (see headerTemplate). */
  headers: string[];
}

/**
 * Where bodies gather their bytes: one buffer a responder lends to one body at a time. A scan's
 * runs may be views of the store's read buffer, which must be copied before the next read, and
 * a buffer of its own per run costs an allocation (and its garbage) per run: copied here, an
 * answer read in one turn (the common case) costs one allocation, its body.
 */
class Scratch {
  buffer = Buffer.allocUnsafeSlow(256 * 1024);
  lentTo: BodyParts | undefined;

  /** Room for `size` bytes, the first `keep` of them kept. */
  reserve(size: number, keep: number): void {
    if (size <= this.buffer.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(2 * this.buffer.length, size));
    this.buffer.copy(larger, 0, 0, keep);
    this.buffer = larger;
  }
}

/** The answer's bytes so far: the head, events joined by commas, and (once complete) the tail. */
class BodyParts {
  /** Bytes moved out of the scratch when another body needed it. */
  private kept: Buffer[] = [];
  private keptSize = 0;
  /** This body's bytes at the start of the scratch (only while it is lent to this body). */
  private pending = 0;
  events = 0;

  constructor(private readonly scratch: Scratch) {
    this.push(HEAD);
  }

  push(bytes: Uint8Array): void {
    if (this.scratch.lentTo !== this) {
      // Single-threaded: the body holding the scratch is between two of its own turns.
      this.scratch.lentTo?.keep();
      this.scratch.lentTo = this;
    }
    this.scratch.reserve(this.pending + bytes.length, this.pending);
    this.scratch.buffer.set(bytes, this.pending);
    this.pending += bytes.length;
  }

  /** Everything so far, as one buffer to write; the parts start afresh. */
  take(): Buffer {
    const joined = Buffer.allocUnsafe(this.keptSize + this.pending);
    let at = 0;
    for (const part of this.kept) at += part.copy(joined, at);
    this.scratch.buffer.copy(joined, at, 0, this.pending);
    this.kept = [];
    this.keptSize = 0;
    this.pending = 0;
    return joined;
  }

  join(): Buffer {
    this.push(TAIL);
    return this.take();
  }

  /** Moves this body's bytes out of the scratch, which another body needs. */
  private keep(): void {
    if (this.pending > 0) {
      this.kept.push(Buffer.from(this.scratch.buffer.subarray(0, this.pending)));
      this.keptSize += this.pending;
      this.pending = 0;
    }
    this.scratch.lentTo = undefined;
  }
}

/**
 * Reads runs into the body until `limit` events or more are in (a run is never split); true when
 * the scan is exhausted.
 */
function readSlice(
  scan: Iterator<EventRun>,
  body: BodyParts,
  limit: number,
  onScanned: (events: number) => void,
  charge: (events: number) => void,
): boolean {
  let read = 0;
  let done = false;
  while (read < limit) {
    const next = scan.next();
    if (next.done === true) {
      done = true;
      break;
    }
    if (body.events > 0) body.push(COMMA);
    body.push(next.value.bytes);
    body.events += next.value.events;
    read += next.value.events;
  }
  onScanned(read);
  charge(read);
  return done;
}

/** The RFC 8288 link to the next page: the same window and limit, and where to resume. */
function linkTo(page: PageRequest, cursor: string): string {
  const params = new URLSearchParams();
  if (page.startsAt !== undefined) params.set('starts_at', page.startsAt);
  if (page.endsAt !== undefined) params.set('ends_at', page.endsAt);
  params.set('limit', String(page.limit));
  params.set('cursor', cursor);
  return `</search?${params}>; rel="next"`;
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
