import { Readable } from 'node:stream';
import type { QueryWindow } from '@tessera/core';
import type { StoreView } from '@tessera/store';
import { LRUCache } from 'lru-cache';

const HEAD = Buffer.from('{"data":{"events":[');
const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']},"error":null}');

/** A cached or freshly joined body, or, past the entry limit, a stream straight from the scan. */
export type SearchBody = Buffer | Readable;

export interface SearchResponderOptions {
  store: StoreView;
  cacheMaxBytes: number;
  cacheMaxEntryBytes: number;
}

/**
 * Builds /search bodies by joining the store's pre-serialized events, never serializing an
 * event again. Results are cached per (store version, window), which is also the ETag: a new
 * version makes every older entry unreachable, and LRU ages them out. A result larger than
 * cacheMaxEntryBytes is streamed straight from the range scan and not cached, so a query
 * without parameters over any number of events runs in bounded memory.
 */
export function createSearchResponder(options: SearchResponderOptions) {
  const { store } = options;
  const cache =
    options.cacheMaxBytes > 0
      ? new LRUCache<string, Buffer>({
          maxSize: options.cacheMaxBytes,
          sizeCalculation: (b) => b.length,
        })
      : undefined;

  return {
    /**
     * The ETag for a window over the store's current content, named by the store's id and
     * version: no scan needed, and never the same for two stores (a recreated volume, a restored
     * backup), so a client cannot get a false 304.
     */
    etagFor(window: QueryWindow): string {
      const { storeId, version } = store.head();
      return `"${storeId}.${version}.${window.startsAt ?? ''}.${window.endsAt ?? ''}"`;
    },

    respond(window: QueryWindow, etag: string): SearchBody {
      const cached = cache?.get(etag);
      if (cached !== undefined) return cached;
      const events = store.scan(window);
      const parts: Buffer[] = [HEAD];
      let size = HEAD.length + TAIL.length;
      let first = true;
      // Iterated by hand: leaving a for-of early would close the scan the stream continues.
      for (let next = events.next(); next.done !== true; next = events.next()) {
        const event = next.value;
        if (!first) parts.push(COMMA);
        parts.push(event);
        size += event.length + (first ? 0 : 1);
        first = false;
        if (size > options.cacheMaxEntryBytes) {
          return Readable.from(continueStream(parts, events), { objectMode: false });
        }
      }
      parts.push(TAIL);
      const body = Buffer.concat(parts, size);
      cache?.set(etag, body);
      return body;
    },
  };
}

export type SearchResponder = ReturnType<typeof createSearchResponder>;

function* continueStream(started: Buffer[], rest: Iterator<Buffer>): Generator<Buffer> {
  yield Buffer.concat(started);
  const batch: Buffer[] = [];
  let batchBytes = 0;
  for (let next = rest.next(); next.done !== true; next = rest.next()) {
    batch.push(COMMA, next.value);
    batchBytes += next.value.length + 1;
    // Batches of ~64 KiB keep the number of writes low without holding much.
    if (batchBytes >= 65_536) {
      yield Buffer.concat(batch, batchBytes);
      batch.length = 0;
      batchBytes = 0;
    }
  }
  batch.push(TAIL);
  yield Buffer.concat(batch);
}
