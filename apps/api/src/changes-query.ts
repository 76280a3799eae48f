import { parse } from 'node:querystring';
import { z } from 'zod';
import { ApiError } from './api-error.js';

/** The most changes one answer of /changes carries; the one home of the bound. */
export const MAX_CHANGES_LIMIT = 10_000;
export const DEFAULT_CHANGES_LIMIT = 1_000;
/** The longest long-poll a client may ask for, in seconds. */
export const MAX_CHANGES_WAIT_S = 60;
/** A change token is 28 characters; anything far longer is refused before it is decoded. */
const MAX_TOKEN_LENGTH = 64;

const once = (name: string) => z.string({ error: `${name} must be given at most once` });
const integer = (name: string, min: number, max: number) =>
  once(name)
    .regex(/^\d+$/, `${name} must be an integer from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be an integer from ${min} to ${max}`);

/** The /changes query string. Unknown parameters are ignored, as on /search. */
export const ChangesQuerySchema = z.object({
  since: once('since')
    .min(1, 'since is empty')
    .max(MAX_TOKEN_LENGTH, 'since is not a change token')
    .optional(),
  limit: integer('limit', 1, MAX_CHANGES_LIMIT).default(DEFAULT_CHANGES_LIMIT),
  wait: integer('wait', 0, MAX_CHANGES_WAIT_S).default(0),
});

export interface ChangesRequest {
  /** The token to follow from: `since`, or for a stream, the Last-Event-ID its client resumes with. */
  since: string;
  limit: number;
  waitMs: number;
}

/**
 * Parses a /changes request. A stream resuming after a disconnect sends the id of the last event
 * it received as Last-Event-ID, which wins over the `since` of the URL it reconnects to.
 */
export function parseChangesQuery(querystring: string, lastEventId?: string): ChangesRequest {
  const raw = querystring === '' ? {} : parse(querystring, '&', '=', { maxKeys: 0 });
  const parsed = ChangesQuerySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError('invalid_parameter', parsed.error.issues[0]?.message ?? 'invalid query');
  }
  const since = lastEventId === undefined || lastEventId === '' ? parsed.data.since : lastEventId;
  if (since === undefined) {
    throw new ApiError(
      'invalid_parameter',
      'since is required: follow from the Changes-Token header of a /search answer',
    );
  }
  return { since, limit: parsed.data.limit, waitMs: parsed.data.wait * 1000 };
}
