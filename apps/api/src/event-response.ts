import type { StoredEvent, StoreView } from '@tessera/store';
import type { Context } from 'koa';
import { z } from 'zod';
import { ApiError } from './api-error.js';
import { matchesIfNoneMatch } from './etag.js';

const HEAD = Buffer.from('{"data":{"event":');
const TAIL = Buffer.from('},"error":null}');
const EventIdSchema = z.uuid();

/**
 * GET /events/{id}: one event, read from the store's ids index (two lookups, no scan) and served
 * as the same pre-serialized summary /search joins. Its ETag is the event's record digest, which
 * changes exactly when the event does, whatever happens to the others.
 */
export function respondWithEvent(ctx: Context, store: StoreView, id: string): void {
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
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('ETag', etag);
  if (matchesIfNoneMatch(ctx.get('If-None-Match') || undefined, etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = 'application/json; charset=utf-8';
  ctx.body = Buffer.concat([HEAD, found.summary, TAIL]);
}
