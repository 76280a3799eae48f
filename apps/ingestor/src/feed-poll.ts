import type { RejectionCode } from '@tessera/core';
import type { FeedFormat } from '@tessera/mapping';
import { type ApplyCounts, changedAnything, type FeedValidators } from '@tessera/store';
import type { Logger } from 'pino';
import { parseChunks, type TimedReading } from './chunk-parser.js';
import type { FeedChunk } from './feed-chunk.js';
import { redactUrl } from './feed-config.js';
import type { FeedFetcher, FetchResult } from './feed-fetcher.js';
import type { FeedBatch, FeedSink } from './feed-sink.js';
import { feedSource, type ReadingPlan, readingPlan, type SourceStats } from './feed-source.js';
import { emptyStagedFeed, type StagedFeed, stageReadings } from './feed-staging.js';
import type { WaitTime } from './in-order-delivery.js';
import { IngestError, type IngestErrorCode } from './ingest-error.js';
import { parseMappedStream } from './mapped-parser.js';
import type { ParserPool } from './parser-pool.js';

export interface PollDeps {
  /** The store itself, or in cluster mode the leader's publishing sink. */
  store: FeedSink;
  fetcher: FeedFetcher;
  pool: ParserPool;
  log: Logger;
  provider: string;
  timeZone: string;
  /** The partner API's own XML (the built-in path), or a mapping of the partner's format. */
  format: FeedFormat;
  chunkBytes: number;
  maxElementBytes: number;
  /** See SourceSettings. */
  runBytes?: number;
  deadlineMs: number;
  now?: () => number;
  onProgress?: (progress: { bytes: number; events: number }) => void;
}

export type PollVerdict = 'applied' | 'not_modified' | 'unchanged' | 'failed';

/**
 * Where a poll's time went, in ms. `fetchMs` (the response and its body), `splitMs`, `waitMs`
 * (idle, for the parse workers to catch up) and `storeMs` (writing readings and committing) are
 * the main thread's and add up to its whole poll; `decodeMs`, `condenseMs`, `saxMs` and
 * `readMs` (validating, normalizing and serializing events) are added up over the worker
 * threads, which run side by side.
 */
export interface PollPhases {
  fetchMs: number;
  splitMs: number;
  waitMs: number;
  storeMs: number;
  decodeMs: number;
  condenseMs: number;
  saxMs: number;
  readMs: number;
}

/** One poll's account: logged as one line, printed by `--once`, and used for scheduling. */
export interface PollReport {
  outcome: PollVerdict;
  bytes: number;
  durationMs: number;
  events: number;
  counts: ApplyCounts | null;
  rejected: Partial<Record<RejectionCode, number>>;
  /** The same rejections by the field at fault (the mapping's, or the partner attribute's). */
  faults: StagedFeed['faults'];
  offline: number;
  error: { code: IngestErrorCode; message: string } | null;
  retryAfterMs: number | undefined;
  phases: PollPhases;
}

/** How a poll ended, as its steps returned it. */
type PollEnd =
  | { kind: 'not_modified' }
  | { kind: 'failed'; error: IngestError }
  /** The feed was read whole: the same bytes as last applied (nothing applied), or applied. */
  | { kind: 'read'; sameBytes: true }
  | { kind: 'read'; sameBytes: false; counts: ApplyCounts; commitMs: number };

/** What each step of a poll measured, each written by its own step only. */
interface PollSteps {
  source: SourceStats;
  parse: WaitTime;
  staged: StagedFeed;
}

/**
 * One poll: conditional fetch, then body → decode → cut → parse in order → stage, and, only if
 * the whole document was sound, one commit. Any fault leaves the store's events untouched and is
 * recorded in the store's state under a code that says whose fault it was.
 */
export async function pollFeed(deps: PollDeps, signal: AbortSignal): Promise<PollReport> {
  const at = (deps.now ?? Date.now)();
  const started = performance.now();
  const tasks = new AbortController();
  const pollSignal = AbortSignal.any([signal, tasks.signal, AbortSignal.timeout(deps.deadlineMs)]);
  const steps: PollSteps = {
    source: { bytes: 0, fetchMs: 0, splitMs: 0 },
    parse: { waitMs: 0 },
    staged: emptyStagedFeed(),
  };
  let end: PollEnd;
  try {
    end = await readAndCommit(deps, at, pollSignal, steps);
  } catch (cause) {
    // Read what stopped the poll before stopping its tasks, which aborts pollSignal too.
    const error = toFailure(cause, deps.store, pollSignal);
    tasks.abort();
    if (error.code === 'internal_error') deps.log.error({ err: cause }, 'poll failed unexpectedly');
    await recordFailure(deps, at, error);
    end = { kind: 'failed', error };
  }
  return reportOf(end, steps, performance.now() - started);
}

/** Every step of a poll but its failure, in order; the batch is this poll's from begin to close. */
async function readAndCommit(
  deps: PollDeps,
  at: number,
  signal: AbortSignal,
  steps: PollSteps,
): Promise<PollEnd> {
  await deps.store.prepare(signal);
  const previous = deps.store.state();
  const fetched = await deps.fetcher.fetch(previous.validators, signal);
  if (fetched.kind === 'not_modified') {
    await deps.store.recordPoll({ ok: true, at });
    return { kind: 'not_modified' };
  }
  warnIfMoved(deps.log, fetched);
  const batch = deps.store.begin();
  try {
    // One plan for both ends: how the source cuts is how the parser reads (a mapping compiled once).
    const plan = readingPlan(deps.format);
    const source = await feedSource(deps, plan, fetched, steps.source);
    const readings = parseReadings(deps, plan, source.chunks, signal, steps.parse);
    const progress = () =>
      deps.onProgress?.({ bytes: steps.source.bytes, events: steps.staged.events });
    await stageReadings(readings, batch, deps.log, steps.staged, progress);
    source.check();
    const validators = { ...validatorsOf(fetched), hash: source.digest() };
    return await commitFeed(deps.store, batch, { at, validators }, previous.validators.hash);
  } finally {
    await batch.close();
  }
}

/**
 * Applies the batch, or, for the same bytes as the feed last applied (committed with its state,
 * so this store holds all of it), records the poll alone: nothing to apply, whatever a record
 * says.
 */
async function commitFeed(
  sink: FeedSink,
  batch: FeedBatch,
  commit: { at: number; validators: FeedValidators },
  previousHash: string | null,
): Promise<PollEnd> {
  if (commit.validators.hash === previousHash) {
    await sink.recordPoll({ ok: true, ...commit });
    return { kind: 'read', sameBytes: true };
  }
  const started = performance.now();
  const counts = await batch.apply(commit);
  return { kind: 'read', sameBytes: false, counts, commitMs: performance.now() - started };
}

/** The parser of the feed's format: chunks over many threads, or one stream on one thread. */
function parseReadings(
  deps: PollDeps,
  { mapping, plan }: ReadingPlan,
  chunks: AsyncIterable<FeedChunk>,
  signal: AbortSignal,
  waited: WaitTime,
): AsyncIterable<TimedReading> {
  const task = { provider: deps.provider, timeZone: deps.timeZone };
  if (mapping === undefined) return parseChunks(deps.pool, task, chunks, signal, waited);
  const mapped = { ...task, mapping, maxElementBytes: deps.maxElementBytes };
  if (plan === undefined) return parseMappedStream(deps.pool, mapped, chunks, signal, waited);
  return parseChunks(deps.pool, mapped, chunks, signal, waited);
}

function validatorsOf(
  fetched: Extract<FetchResult, { kind: 'feed' }>,
): Omit<FeedValidators, 'hash'> {
  const { urlDigest, etag, lastModified } = fetched;
  return { urlDigest, etag, lastModified };
}

function warnIfMoved(log: Logger, fetched: Extract<FetchResult, { kind: 'feed' }>): void {
  if (fetched.movedTo === null) return;
  log.warn(
    { from: redactUrl(fetched.url), to: redactUrl(fetched.movedTo) },
    'the feed moved permanently: set its address to the new one',
  );
}

/** A poll's verdict, decided here only, from how it ended. */
export function verdictOf(end: PollEnd): PollVerdict {
  if (end.kind !== 'read') return end.kind;
  return !end.sameBytes && changedAnything(end.counts) ? 'applied' : 'unchanged';
}

/** The poll's account, from how it ended and what each step measured. */
function reportOf(end: PollEnd, steps: PollSteps, durationMs: number): PollReport {
  const { source, parse, staged } = steps;
  const counts =
    end.kind !== 'read'
      ? null
      : end.sameBytes
        ? { inserted: 0, updated: 0, moved: 0, unchanged: staged.events }
        : end.counts;
  const error = end.kind === 'failed' ? end.error : null;
  return {
    outcome: verdictOf(end),
    bytes: source.bytes,
    durationMs: Math.round(durationMs),
    events: staged.events,
    counts,
    rejected: staged.rejected,
    faults: staged.faults,
    offline: staged.offline,
    error: error === null ? null : { code: error.code, message: error.message },
    retryAfterMs: error?.retryAfterMs,
    phases: {
      fetchMs: source.fetchMs,
      splitMs: source.splitMs,
      waitMs: parse.waitMs,
      storeMs: staged.storeMs + (end.kind === 'read' && !end.sameBytes ? end.commitMs : 0),
      ...staged.workerTimes,
    },
  };
}

async function recordFailure(deps: PollDeps, at: number, error: IngestError): Promise<void> {
  // A poll cut short by shutdown says nothing about the provider: not a failure to report.
  if (error.code === 'aborted') return;
  try {
    await deps.store.recordPoll({ ok: false, at, code: error.code, message: error.message });
  } catch (stateError) {
    deps.log.error({ err: stateError }, 'could not record the failed poll in the store');
  }
}

/** The poll's failure: its own, the sink's (which knows its store or cluster), or the signal's. */
function toFailure(cause: unknown, sink: FeedSink, signal: AbortSignal): IngestError {
  if (cause instanceof IngestError) return cause;
  const own = sink.failureOf(cause);
  if (own !== undefined) return own;
  if (signal.aborted) {
    const reason = signal.reason;
    const timedOut = reason instanceof DOMException && reason.name === 'TimeoutError';
    return new IngestError(
      timedOut ? 'provider_timeout' : 'aborted',
      timedOut ? 'poll deadline passed' : 'poll aborted',
      { cause },
    );
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new IngestError('internal_error', `unexpected error: ${message}`, { cause });
}
