import type { ServerResponse } from 'node:http';
import type { StoredEvent, StoreView } from '@tessera/store';
import { z } from 'zod';
import { ApiError } from './api-error.js';
import { headerTemplate, withRequestId } from './common-headers.js';
import { matchesIfNoneMatch } from './etag.js';

const HEAD = Buffer.from('{"data":{"event":');
const TAIL = Buffer.from('},"error":null}');
const EventIdSchema = z.uuid();

/** One /events/{id} request as the responder sees it (see SearchExchange). */
export interface EventExchange {
  ifNoneMatch: string | undefined;
  res: ServerResponse;
  requestId: string;
  /** The answer is decided and about to be written with this status. */
  begin(status: number): void;
}

/**
 * GET /events/{id}: one event, read from the store's ids index (two lookups, no scan) and served
 * as the same pre-serialized summary /search joins, written straight to the response as /search
 * answers are. Its ETag is the event's record digest, which changes exactly when the event
 * does, whatever happens to the others. Throws (before writing) `invalid_parameter`,
 * `not_found` or `store_unavailable`.
 */
export function respondWithEvent(store: StoreView, id: string, x: EventExchange): void {
  if (!EventIdSchema.safeParse(id).success) {
    throw new ApiError('invalid_parameter', 'id must be an event id (a UUID)');
  }
  let found: StoredEvent | undefined;
  try {
    found = store.event(id.toLowerCase());
  } catch (cause) {
    throw new ApiError('store_unavailable', 'the store cannot be read', { cause });
  }
  if (found === undefined) throw new ApiError('not_found', `no event has the id ${id}`);
  const etag = `"${found.digest}"`;
  if (matchesIfNoneMatch(x.ifNoneMatch, etag)) {
    x.begin(304);
    x.res.writeHead(
      304,
      withRequestId(headerTemplate(['Cache-Control', 'no-cache', 'ETag', etag]), x.requestId),
    );
    x.res.end();
    return;
  }
  const body = Buffer.concat([HEAD, found.summary, TAIL]);
  x.begin(200);
  x.res.writeHead(
    200,
    withRequestId(
      headerTemplate([
        'Content-Type',
        'application/json; charset=utf-8',
        'Cache-Control',
        'no-cache',
        'ETag',
        etag,
        'Content-Length',
        String(body.length),
      ]),
      x.requestId,
    ),
  );
  x.res.end(body); // Node leaves the body out of an answer to HEAD
}
