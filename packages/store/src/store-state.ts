import { z } from 'zod';

/** HTTP validators and body hash of the last feed applied, for conditional polls. */
export const FeedValidatorsSchema = z.object({
  /**
   * A digest of the feed URL these validators belong to (they mean nothing for another URL): not
   * the URL itself, which may carry a secret, while this record sits in every node's store and
   * crosses the network in cluster mode.
   */
  urlDigest: z.string().nullable().default(null),
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
export const FeedStateSchema = z.object({
  validators: FeedValidatorsSchema,
  lastAttemptAt: z.number().nullable(),
  /** When a whole feed was last read and applied (or found unchanged); null: never. */
  lastSuccessAt: z.number().nullable(),
  /** When the events last changed (the version last moved). */
  lastChangeAt: z.number().nullable(),
  lastErrorCode: z.string().nullable(),
  lastErrorMessage: z.string().nullable(),
  consecutiveFailures: z.number().int().nonnegative(),
  /** When the current run of failures began (the first failed poll since a success); null: none. */
  failingSince: z.number().nullable().default(null),
  lastCounts: ApplyCountsSchema.nullable(),
});
export type FeedState = z.infer<typeof FeedStateSchema>;

export const INITIAL_STATE: FeedState = {
  validators: { urlDigest: null, etag: null, lastModified: null, hash: null },
  lastAttemptAt: null,
  lastSuccessAt: null,
  lastChangeAt: null,
  lastErrorCode: null,
  lastErrorMessage: null,
  consecutiveFailures: 0,
  failingSince: null,
  lastCounts: null,
};

/**
 * The outcome of one poll, as the store records it: a whole feed read (with the counts of what it
 * changed when it was applied, none for a 304), or a failure and whose fault it was. In cluster
 * mode it crosses the network inside feed messages, hence a schema.
 */
export const PollOutcomeSchema = z.union([
  z.object({
    ok: z.literal(true),
    at: z.number(),
    /** When the poll ended (`at` is when it began); absent: unknown, a run of no duration. */
    endedAt: z.number().optional(),
    validators: FeedValidatorsSchema.optional(),
    counts: ApplyCountsSchema.optional(),
  }),
  z.object({
    ok: z.literal(false),
    at: z.number(),
    endedAt: z.number().optional(),
    code: z.string(),
    message: z.string(),
  }),
]);
export type PollOutcome = z.infer<typeof PollOutcomeSchema>;

export function changedAnything(counts: ApplyCounts): boolean {
  return counts.inserted + counts.updated + counts.moved > 0;
}

/** The state after a poll: the one rule for every way a poll ends. */
export function nextState(previous: FeedState, outcome: PollOutcome): FeedState {
  if (!outcome.ok) {
    return {
      ...previous,
      lastAttemptAt: outcome.at,
      lastErrorCode: outcome.code,
      lastErrorMessage: outcome.message,
      consecutiveFailures: previous.consecutiveFailures + 1,
      failingSince: previous.failingSince ?? outcome.at,
    };
  }
  const changed = outcome.counts !== undefined && changedAnything(outcome.counts);
  return {
    ...previous,
    validators: outcome.validators ?? previous.validators,
    lastAttemptAt: outcome.at,
    lastSuccessAt: outcome.at,
    lastChangeAt: changed ? outcome.at : previous.lastChangeAt,
    lastErrorCode: null,
    lastErrorMessage: null,
    consecutiveFailures: 0,
    failingSince: null,
    lastCounts: outcome.counts ?? previous.lastCounts,
  };
}

/** How many of a feed's last polls its record keeps (GET /feeds shows them). */
export const MAX_RUNS = 20;

/** One poll of a feed, as /feeds lists it. */
export const PollRunSchema = z.object({
  startedAt: z.number(),
  durationMs: z.number(),
  outcome: z.enum(['applied', 'unchanged', 'failed']),
  code: z.string().nullable(),
  counts: ApplyCountsSchema.nullable(),
});
export type PollRun = z.infer<typeof PollRunSchema>;

/**
 * Everything the store keeps about one feed, in one record: its poll state, its last runs, how
 * many events it brought, and the URL it was last configured with (credentials and query values
 * removed by whoever configured it).
 */
export const FeedRecordSchema = z.object({
  state: FeedStateSchema,
  runs: z.array(PollRunSchema).default([]),
  events: z.number().int().nonnegative().default(0),
  url: z.string().nullable().default(null),
  /**
   * An operator paused the feed: the ingestor does not poll it (its events stay served) until it
   * is resumed; kept here so that a restart keeps it paused.
   */
  paused: z.boolean().default(false),
});
export type FeedRecord = z.infer<typeof FeedRecordSchema>;

export const INITIAL_FEED_RECORD: FeedRecord = {
  state: INITIAL_STATE,
  runs: [],
  events: 0,
  url: null,
  paused: false,
};

/** The run a poll's outcome makes in its feed's record. */
export function runOf(outcome: PollOutcome): PollRun {
  const counts = outcome.ok ? (outcome.counts ?? null) : null;
  return {
    startedAt: outcome.at,
    durationMs: Math.max(0, (outcome.endedAt ?? outcome.at) - outcome.at),
    outcome: !outcome.ok ? 'failed' : counts !== null ? 'applied' : 'unchanged',
    code: outcome.ok ? null : outcome.code,
    counts,
  };
}

/** A feed's runs with one more, the last MAX_RUNS kept. */
export function appendRun(runs: readonly PollRun[], run: PollRun): PollRun[] {
  return [...runs, run].slice(-MAX_RUNS);
}

/** A feed's record after a poll: its state, the run appended (the last MAX_RUNS kept), its events. */
export function nextFeedRecord(previous: FeedRecord, outcome: PollOutcome): FeedRecord {
  const counts = outcome.ok ? (outcome.counts ?? null) : null;
  return {
    ...previous,
    state: nextState(previous.state, outcome),
    runs: appendRun(previous.runs, runOf(outcome)),
    events: previous.events + (counts?.inserted ?? 0),
  };
}
