import { parse } from 'node:querystring';
import { MAX_DATETIME_LENGTH, parseQueryWindow, type QueryWindow } from '@tessera/core';
import { z } from 'zod';
import { ApiError } from './api-error.js';
import { MAX_CURSOR_LENGTH } from './page-cursor.js';

/** The largest page a client may ask for; the one home of the bound (schema, docs, tests). */
export const MAX_PAGE_LIMIT = 10_000;

const once = (name: string) => z.string({ error: `${name} must be given at most once` });

const bound = (name: string) =>
  once(name)
    .max(MAX_DATETIME_LENGTH, `${name} is longer than ${MAX_DATETIME_LENGTH} characters`)
    .optional();

/** The /search query string. Unknown parameters are ignored, as HTTP clients expect. */
export const SearchQuerySchema = z
  .object({
    starts_at: bound('starts_at'),
    ends_at: bound('ends_at'),
    limit: once('limit')
      .regex(/^[1-9]\d*$/, `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`)
      .transform(Number)
      .refine((n) => n <= MAX_PAGE_LIMIT, `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`)
      .optional(),
    cursor: once('cursor')
      .min(1, 'cursor is empty')
      .max(MAX_CURSOR_LENGTH, 'cursor is not one this API issued')
      .optional(),
  })
  .refine((q) => q.cursor === undefined || q.limit !== undefined, {
    message: 'cursor needs limit (follow the Link header, which carries both)',
  });

/** A parsed /search request: the window, and the page when `limit` asks for one. */
export interface SearchRequest {
  window: QueryWindow;
  page?: PageRequest;
}

export interface PageRequest {
  limit: number;
  /** The cursor as given: opened (and authenticated) against the store it is served from. */
  cursor?: string;
  /** The bounds as given, which the next page's link carries on. */
  startsAt?: string;
  endsAt?: string;
}

/**
 * Parses the raw query string. node:querystring rather than Koa's `ctx.query` getter: the same
 * result (a repeated key becomes an array, which the schema refuses), at a fraction of the cost
 * on the hot path. `maxKeys: 0` lifts its default limit of 1,000 keys, past which it silently
 * drops the rest (a bound given after 1,000 others would be ignored); Node's limit on the size
 * of a request's head (16 KiB) bounds the work instead.
 */
export function parseSearchQuery(querystring: string): SearchRequest {
  const raw = querystring === '' ? {} : parse(querystring, '&', '=', { maxKeys: 0 });
  const parsed = SearchQuerySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError('invalid_parameter', issue?.message ?? 'invalid query');
  }
  const { starts_at, ends_at, limit, cursor } = parsed.data;
  const result = parseQueryWindow(starts_at, ends_at);
  if (!result.ok) throw new ApiError('invalid_parameter', result.error.message);
  if (limit === undefined) return { window: result.window };
  return {
    window: result.window,
    page: { limit, cursor, startsAt: starts_at, endsAt: ends_at },
  };
}

/** Query strings remembered; past this the memory starts afresh (a flood of distinct ones). */
const REMEMBERED = 4_096;
/** Longer query strings are parsed every time, never remembered. */
const REMEMBERED_LENGTH = 256;

/**
 * `parseSearchQuery` with a memory: parsing is pure, so the same raw query string always means
 * the same request (or the same refusal). Clients repeat their windows; each is parsed once.
 */
export function createSearchQueryParser(): (querystring: string) => SearchRequest {
  let known = new Map<string, SearchRequest | ApiError>();
  return (querystring) => {
    let parsed = known.get(querystring);
    if (parsed === undefined) {
      try {
        parsed = parseSearchQuery(querystring);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        parsed = error;
      }
      if (querystring.length <= REMEMBERED_LENGTH) {
        if (known.size >= REMEMBERED) known = new Map();
        known.set(querystring, parsed);
      }
    }
    if (parsed instanceof ApiError) throw parsed;
    return parsed;
  };
}
