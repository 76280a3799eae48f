import type { Head, StoreView } from '@tessera/store';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { ApiError } from './api-error.js';
import {
  answerNotModified,
  type DirectExchange,
  jsonAnswerHeaders,
  sendAnswer,
} from './direct-answer.js';

const HEAD = Buffer.from('{"data":{"event":');
const TAIL = Buffer.from('},"error":null}');
const EventIdSchema = z.uuid();

/** Answers kept per process: the ids clients ask for again and again (the events they show). */
const REMEMBERED_EVENTS = 10_000;

interface EventAnswer {
  /** The store content it was read from: valid while the store's head is the same. */
  storeId: string;
  version: number;
  etag: string;
  body: Buffer;
  /** The headers it goes out with (see jsonAnswerHeaders). */
  headers: string[];
}

/**
 * GET /events/{id}: one event, read from the store's ids index (two lookups, no scan) and served
 * as the same pre-serialized summary /search joins, written straight to the response as /search
 * answers are. Its ETag is the event's record digest, which changes exactly when the event
 * does, whatever happens to the others. An answer is remembered until the store's version moves
 * (any write), so that a popular event costs one head read. Throws (before writing)
 * `invalid_parameter`, `not_found` or `store_unavailable`.
 */
export function createEventResponder(store: StoreView) {
  const remembered = new LRUCache<string, EventAnswer>({ max: REMEMBERED_EVENTS });
  // Read once per turn of the event loop, as /search does: lmdb-js reads one snapshot per turn.
  let head: Head | undefined;
  const currentHead = (): Head => {
    if (head === undefined) {
      head = store.head();
      setImmediate(() => {
        head = undefined;
      });
    }
    return head;
  };

  const read = (id: string): EventAnswer => {
    // An id remembered was checked when its answer was made: only the others are checked here.
    const known = remembered.get(id);
    if (known === undefined && !EventIdSchema.safeParse(id).success) {
      throw new ApiError('invalid_parameter', 'id must be an event id (a UUID)');
    }
    try {
      const { storeId, version } = currentHead();
      if (known !== undefined && known.version === version && known.storeId === storeId) {
        return known;
      }
      const found = store.event(id.toLowerCase());
      if (found === undefined) throw new ApiError('not_found', `no event has the id ${id}`);
      const etag = `"${found.digest}"`;
      const body = Buffer.concat([HEAD, found.summary, TAIL]);
      const answer = {
        storeId,
        version,
        etag,
        body,
        headers: jsonAnswerHeaders(etag, body.length),
      };
      remembered.set(id, answer);
      return answer;
    } catch (cause) {
      if (cause instanceof ApiError) throw cause;
      throw new ApiError('store_unavailable', 'the store cannot be read', { cause });
    }
  };

  return {
    respond(id: string, x: DirectExchange): void {
      const answer = read(id);
      if (!answerNotModified(x, answer.etag)) sendAnswer(x, answer.headers, answer.body);
    },
  };
}
