import { createHash } from 'node:crypto';
import { NORMALIZATION_VERSION, type RejectionCode } from '@tessera/core';
import {
  BUILT_IN_FORMAT,
  type ChunkPlan,
  chunkPlan,
  compileMapping,
  describeFormat,
  type FeedFormat,
  type Mapping,
} from '@tessera/mapping';
import type { ApplyCounts } from '@tessera/store';
import type { Logger } from 'pino';
import { type ChunkParser, createChunkParser } from './chunk-parser.js';
import { createFeedApplier, type FeedTally } from './feed-applier.js';
import { redactUrl } from './feed-config.js';
import { FeedDecoder } from './feed-encoding.js';
import { checkEnvelope } from './feed-envelope.js';
import type { FeedFetcher } from './feed-fetcher.js';
import type { FeedSink } from './feed-sink.js';
import { elementStart, FeedSplitter } from './feed-splitter.js';
import { IngestError, type IngestErrorCode } from './ingest-error.js';
import { JsonRecordSplitter } from './json-splitter.js';
import { checkMappedJsonEnvelope, checkMappedXmlEnvelope } from './mapped-envelope.js';
import { createMappedParser } from './mapped-parser.js';
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
  faults: FeedTally['faults'];
  offline: number;
  error: { code: IngestErrorCode; message: string } | null;
  retryAfterMs: number | undefined;
  phases: PollPhases;
}

/**
 * One poll: conditional fetch, streaming split, parallel parse, and, only if the whole document
 * was sound, one transaction. Any fault leaves the store's events untouched and is recorded in
 * the store's state under a code that says whose fault it was.
 */
export async function pollFeed(deps: PollDeps, signal: AbortSignal): Promise<PollReport> {
  const at = (deps.now ?? Date.now)();
  const started = performance.now();
  const report = emptyReport();
  const tasks = new AbortController();
  const pollSignal = AbortSignal.any([signal, tasks.signal, AbortSignal.timeout(deps.deadlineMs)]);
  const applier = createFeedApplier(deps.store, deps.log, report);
  const phases = report.phases;
  const clock = createPhaseClock(phases);
  const parser = createParser(deps, pollSignal, async (reading, times) => {
    phases.decodeMs += times.decodeMs;
    phases.condenseMs += times.condenseMs;
    phases.saxMs += times.saxMs;
    phases.readMs += times.readMs;
    const started = performance.now();
    await applier.fold(reading);
    clock.stored(performance.now() - started);
  });
  try {
    await deps.store.prepare(pollSignal);
    const previous = deps.store.state();
    const fetched = await deps.fetcher.fetch(previous.validators, pollSignal);
    if (fetched.kind === 'not_modified') {
      await deps.store.recordPoll({ ok: true, at });
      report.outcome = 'not_modified';
      return report;
    }
    if (fetched.movedTo !== null) {
      deps.log.warn(
        { from: redactUrl(fetched.url), to: redactUrl(fetched.movedTo) },
        'the feed moved permanently: set its address to the new one',
      );
    }
    const hash = await readFeed(deps, fetched, parser, report, clock);
    const validators = {
      urlDigest: fetched.urlDigest,
      etag: fetched.etag,
      lastModified: fetched.lastModified,
      hash,
    };
    const committing = performance.now();
    const result = await applier.finish(at, validators, previous.validators.hash);
    clock.stored(performance.now() - committing);
    report.outcome = result.outcome;
    report.counts = result.counts;
    return report;
  } catch (cause) {
    // Read what stopped the poll before stopping its tasks, which aborts pollSignal too.
    const error = toFailure(cause, deps.store, pollSignal);
    const closing = parser.close();
    tasks.abort();
    await closing;
    await applier.abort();
    report.error = { code: error.code, message: error.message };
    report.retryAfterMs = error.retryAfterMs;
    if (error.code === 'internal_error') deps.log.error({ err: cause }, 'poll failed unexpectedly');
    await recordFailure(deps, at, error);
    return report;
  } finally {
    report.durationMs = Math.round(performance.now() - started);
  }
}

/** A poll's report before anything happened: failed until a step says otherwise. */
function emptyReport(): PollReport {
  return {
    outcome: 'failed',
    bytes: 0,
    durationMs: 0,
    events: 0,
    counts: null,
    rejected: {},
    faults: {},
    offline: 0,
    error: null,
    retryAfterMs: undefined,
    phases: {
      fetchMs: 0,
      splitMs: 0,
      waitMs: 0,
      storeMs: 0,
      decodeMs: 0,
      condenseMs: 0,
      saxMs: 0,
      readMs: 0,
    },
  };
}

/**
 * How a feed is cut and parsed. The built-in format, and a mapped one that can be cut into
 * chunks of whole records (see chunkPlan), are parsed by many threads; any other mapping is
 * read as one stream on one thread.
 */
function readingPlan(deps: PollDeps): {
  mapping: Mapping | undefined;
  plan: ChunkPlan | 'built-in';
} {
  if (deps.format === BUILT_IN_FORMAT) return { mapping: undefined, plan: 'built-in' };
  return { mapping: deps.format, plan: chunkPlan(compileMapping(deps.format)) };
}

function createParser(
  deps: PollDeps,
  signal: AbortSignal,
  onReading: Parameters<typeof createChunkParser>[3],
): ChunkParser {
  const task = { provider: deps.provider, timeZone: deps.timeZone };
  const { mapping, plan } = readingPlan(deps);
  if (mapping === undefined) return createChunkParser(deps.pool, task, signal, onReading);
  const mapped = { ...task, mapping, maxElementBytes: deps.maxElementBytes };
  if (plan === undefined) return createMappedParser(deps.pool, mapped, signal, onReading);
  return createChunkParser(deps.pool, mapped, signal, onReading);
}

/**
 * How the decoded body reaches the parser, and how what surrounds the records is checked at
 * the end: cut into chunks of whole elements or records, the rest checked as one document; or,
 * for a stream, passed on as it comes (its reader checks its own shape).
 */
interface FeedCutter {
  push(utf8: Buffer): Buffer[];
  end(): Buffer[];
  check(): void;
}

/**
 * A JSON chunk becomes all its records' objects at once (JSON.parse), which then live until the
 * chunk is mapped: small chunks keep them in the workers' small young generation. Measured on a
 * 200 MB feed with two threads, 64 KiB chunks read about a third faster than 1 MiB ones.
 */
const JSON_CHUNK_BYTES = 64 * 1024;

function createCutter(deps: PollDeps): FeedCutter {
  const { plan } = readingPlan(deps);
  if (plan === 'built-in') {
    const splitter = new FeedSplitter(deps);
    return {
      push: (utf8) => splitter.push(utf8),
      end: () => splitter.end(),
      check: () => checkEnvelope(splitter.head, splitter.tail),
    };
  }
  if (plan === undefined) return { push: (utf8) => [utf8], end: () => [], check: () => {} };
  if (plan.type === 'json') {
    const splitter = new JsonRecordSplitter(plan.keys, {
      chunkBytes: Math.min(deps.chunkBytes, JSON_CHUNK_BYTES),
      maxElementBytes: deps.maxElementBytes,
    });
    return {
      push: (utf8) => splitter.push(utf8),
      end: () => splitter.end(),
      check: () => checkMappedJsonEnvelope(splitter.head, splitter.tail, splitter.found),
    };
  }
  const splitter = new FeedSplitter(deps, elementStart([plan.unit]));
  let units = false;
  const noted = (chunks: Buffer[]): Buffer[] => {
    units ||= chunks.length > 0;
    return chunks;
  };
  return {
    push: (utf8) => noted(splitter.push(utf8)),
    end: () => noted(splitter.end()),
    check: () => checkMappedXmlEnvelope(splitter.head, splitter.tail, plan.above, units),
  };
}

/**
 * Streams the body through the cutter into the parse workers, folding what they read into
 * the store as it arrives; checks the document's shape last. Returns the feed's digest: the
 * body and everything else that shapes the stored records, so that a changed time zone, a new
 * mapping or a new normalization makes the same bytes a changed feed.
 */
async function readFeed(
  deps: PollDeps,
  { body, charset }: { body: AsyncIterable<Buffer>; charset: string | null },
  parser: ChunkParser,
  report: PollReport,
  clock: PhaseClock,
): Promise<string> {
  const hash = createHash('sha256').update(
    `${deps.provider}\u0000${deps.timeZone}\u0000${NORMALIZATION_VERSION}\u0000${formatDigest(deps.format)}`,
  );
  const cutter = createCutter(deps);
  const decoder = new FeedDecoder(charset);
  const submit = async (chunks: Buffer[]): Promise<void> => {
    clock.lap('splitMs');
    for (const chunk of chunks) await parser.submit(chunk);
    clock.lap('waitMs');
  };
  for await (const piece of body) {
    clock.lap('fetchMs');
    hash.update(piece);
    report.bytes += piece.length;
    const utf8 = decoder.push(piece);
    if (utf8.length > 0) await submit(cutter.push(utf8));
    deps.onProgress?.({ bytes: report.bytes, events: report.events });
  }
  clock.lap('fetchMs');
  const rest = decoder.end();
  if (rest.length > 0) await submit(cutter.push(rest));
  await submit(cutter.end());
  await parser.drain();
  clock.lap('waitMs');
  cutter.check();
  return hash.digest('hex');
}

/**
 * The built-in format adds nothing to the digest, so that its feeds' stored hashes stay valid
 * and an upgrade does not re-apply every unchanged feed.
 */
function formatDigest(format: FeedFormat): string {
  return format === BUILT_IN_FORMAT ? '' : `${describeFormat(format)}\u0000`;
}

interface PhaseClock {
  /** Charges the main thread's time since the last lap to `phase`, less what was stored meanwhile. */
  lap(phase: 'fetchMs' | 'splitMs' | 'waitMs'): void;
  stored(ms: number): void;
}

/**
 * Laps of the main thread's time. Readings are stored as they arrive, inside whatever await the
 * main thread is in (a body read, a submit, the drain): that time is taken out of the lap it fell
 * in and counted once, as store time.
 */
function createPhaseClock(phases: PollPhases): PhaseClock {
  let at = performance.now();
  let storedInLap = 0;
  return {
    lap(phase) {
      const now = performance.now();
      phases[phase] += now - at - storedInLap;
      storedInLap = 0;
      at = now;
    },
    stored(ms) {
      phases.storeMs += ms;
      storedInLap += ms;
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
