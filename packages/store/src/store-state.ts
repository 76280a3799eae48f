import { z } from 'zod';

/** HTTP validators and body hash of the last feed applied, for conditional polls. */
export const FeedValidatorsSchema = z.object({
  /** The feed URL these validators belong to: they mean nothing for another URL. */
  url: z.string().nullable().default(null),
  etag: z.string().nullable(),
  lastModified: z.string().nullable(),
  hash: z.string().nullable(),
});
export type FeedValidators = z.infer<typeof FeedValidatorsSchema>;

/** Counts of the last applied feed, by outcome. */
export const ApplyCountsSchema = z.object({
  inserted: z.number().int(),
  updated: z.number().int(),
  moved: z.number().int(),
  unchanged: z.number().int(),
});
export type ApplyCounts = z.infer<typeof ApplyCountsSchema>;

/**
 * What the ingestor records about itself, so that any process reading the store can tell how
 * fresh its data is. Times are epoch milliseconds.
 */
export const StoreStateSchema = z.object({
  validators: FeedValidatorsSchema,
  lastAttemptAt: z.number().nullable(),
  lastSuccessAt: z.number().nullable(),
  /** When the events last changed (the version last moved). */
  lastChangeAt: z.number().nullable(),
  lastErrorCode: z.string().nullable(),
  lastErrorMessage: z.string().nullable(),
  consecutiveFailures: z.number().int().nonnegative(),
  lastCounts: ApplyCountsSchema.nullable(),
});
export type StoreState = z.infer<typeof StoreStateSchema>;

export const INITIAL_STATE: StoreState = {
  validators: { url: null, etag: null, lastModified: null, hash: null },
  lastAttemptAt: null,
  lastSuccessAt: null,
  lastChangeAt: null,
  lastErrorCode: null,
  lastErrorMessage: null,
  consecutiveFailures: 0,
  lastCounts: null,
};

/** The outcome of one poll that wrote no events: unchanged (304, same hash) or failed. */
export type PollOutcome =
  | { ok: true; at: number; validators?: FeedValidators }
  | { ok: false; at: number; code: string; message: string };
