import { parse } from 'node:querystring';
import { MAX_DATETIME_LENGTH, parseQueryWindow, type QueryWindow } from '@tessera/core';
import { z } from 'zod';
import { ApiError } from './api-error.js';

const bound = (name: string) =>
  z
    .string({ error: `${name} must be given at most once` })
    .max(MAX_DATETIME_LENGTH, `${name} is longer than ${MAX_DATETIME_LENGTH} characters`)
    .optional();

/** The /search query string. Unknown parameters are ignored, as HTTP clients expect. */
export const SearchQuerySchema = z.object({
  starts_at: bound('starts_at'),
  ends_at: bound('ends_at'),
});

/**
 * Parses the raw query string. node:querystring rather than Koa's `ctx.query` getter: the same
 * result (a repeated key becomes an array, which the schema refuses), at a fraction of the cost
 * on the hot path.
 */
export function parseSearchQuery(querystring: string): QueryWindow {
  const parsed = SearchQuerySchema.safeParse(querystring === '' ? {} : parse(querystring));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError('invalid_parameter', issue?.message ?? 'invalid query');
  }
  const result = parseQueryWindow(parsed.data.starts_at, parsed.data.ends_at);
  if (!result.ok) throw new ApiError('invalid_parameter', result.error.message);
  return result.window;
}

/** Query strings remembered; past this the memory starts afresh (a flood of distinct ones). */
const REMEMBERED = 4_096;
/** Longer query strings are parsed every time, never remembered. */
const REMEMBERED_LENGTH = 256;

/**
 * `parseSearchQuery` with a memory: parsing is pure, so the same raw query string always means
 * the same window (or the same refusal). Clients repeat their windows; each is parsed once.
 */
export function createSearchQueryParser(): (querystring: string) => QueryWindow {
  let known = new Map<string, QueryWindow | ApiError>();
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
