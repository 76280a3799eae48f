import { createHash } from 'node:crypto';
import type { FeedReading, RejectionCode } from '@tessera/core';
import type { ApplyCounts, EventStore, FeedWriter } from '@tessera/store';
import { StoreError } from '@tessera/store';
import type { Logger } from 'pino';
import { checkEnvelope } from './feed-envelope.js';
import type { FeedFetcher } from './feed-fetcher.js';
import { FeedSplitter } from './feed-splitter.js';
import { IngestError } from './ingest-error.js';
import type { ParseResult } from './parse-worker.js';
import type { ParserPool } from './parser-pool.js';

export interface PollDeps {
  store: EventStore;
  fetcher: FeedFetcher;
  pool: ParserPool;
  log: Logger;
  provider: string;
  timeZone: string;
  chunkBytes: number;
  maxElementBytes: number;
  deadlineMs: number;
  now?: () => number;
  onProgress?: (progress: { bytes: number; events: number }) => void;
}

export type PollOutcome = 'applied' | 'not_modified' | 'unchanged' | 'failed';

/** One poll's account: logged as one line, printed by `--once`, and used for scheduling. */
export interface PollReport {
  outcome: PollOutcome;
  bytes: number;
  durationMs: number;
  events: number;
  counts: ApplyCounts | null;
  rejected: Partial<Record<RejectionCode, number>>;
  offline: number;
  error: { code: string; message: string } | null;
  retryAfterMs: number | undefined;
}

/** Individual rejections logged per poll; the rest are only counted. */
const MAX_LOGGED_REJECTIONS = 50;

/**
 * One poll: conditional fetch, streaming split, parallel parse, and, only if the whole document
 * was sound, one transaction. Any document-level fault leaves the store's events untouched and
 * records the failure in the store's state.
 */
export async function pollFeed(deps: PollDeps, signal: AbortSignal): Promise<PollReport> {
  const now = deps.now ?? Date.now;
  const at = now();
  const started = performance.now();
  const report: PollReport = {
    outcome: 'failed',
    bytes: 0,
    durationMs: 0,
    events: 0,
    counts: null,
    rejected: {},
    offline: 0,
    error: null,
    retryAfterMs: undefined,
  };
  const tasks = new AbortController();
  let writer: FeedWriter | undefined;
  let unchanged = 0;
  const pollSignal = AbortSignal.any([signal, tasks.signal, AbortSignal.timeout(deps.deadlineMs)]);
  try {
    const previous = deps.store.state();
    const fetched = await deps.fetcher.fetch(previous.validators, pollSignal);
    if (fetched.kind === 'not_modified') {
      deps.store.recordPoll({ ok: true, at });
      report.outcome = 'not_modified';
      return report;
    }

    // The hash covers what shapes the stored records, so a changed time zone is a changed feed.
    const hash = createHash('sha256').update(`${deps.provider}\u0000${deps.timeZone}\u0000`);
    const splitter = new FeedSplitter(deps);
    let logged = 0;

    // Opened at the first record that changes anything: an unchanged feed opens no transaction,
    // and records are written as they arrive instead of being held until the end.
    const fold = (reading: FeedReading): void => {
      report.offline += reading.offline;
      for (const record of reading.records) {
        report.events++;
        if (writer === undefined) {
          if (deps.store.classify(record) === 'unchanged') {
            unchanged++;
            continue;
          }
          writer = deps.store.beginFeed();
        }
        if (writer.upsert(record) === 'unchanged') unchanged++;
      }
      for (const r of reading.rejections) {
        report.rejected[r.code] = (report.rejected[r.code] ?? 0) + 1;
        if (logged++ < MAX_LOGGED_REJECTIONS) {
          deps.log.warn(
            { baseId: r.baseId, eventId: r.eventId, reason: r.code, field: r.field },
            r.message,
          );
        }
      }
    };

    const inFlight: Promise<ParseResult>[] = [];
    const maxInFlight = deps.pool.threads * 2;
    const drainOne = async (): Promise<void> => {
      const result = await inFlight.shift()!;
      if (!result.ok)
        throw new IngestError('feed_malformed', `feed is not well-formed: ${result.message}`);
      fold(result.reading);
    };
    const submit = async (chunk: Buffer): Promise<void> => {
      const task = deps.pool.parse(
        { chunk, provider: deps.provider, timeZone: deps.timeZone },
        pollSignal,
      );
      task.catch(() => {}); // awaited in order by drainOne; a late rejection is not unhandled
      inFlight.push(task);
      // Backpressure: the body is not read further while the workers are behind.
      while (inFlight.length >= maxInFlight) await drainOne();
    };

    for await (const piece of fetched.body) {
      hash.update(piece);
      report.bytes += piece.length;
      for (const chunk of splitter.push(piece)) await submit(chunk);
      deps.onProgress?.({ bytes: report.bytes, events: report.events });
    }
    for (const chunk of splitter.end()) await submit(chunk);
    while (inFlight.length > 0) await drainOne();
    checkEnvelope(splitter.head, splitter.tail);

    const validators = {
      url: fetched.url,
      etag: fetched.etag,
      lastModified: fetched.lastModified,
      hash: hash.digest('hex'),
    };
    if (writer === undefined || validators.hash === previous.validators.hash) {
      await writer?.abort();
      writer = undefined;
      deps.store.recordPoll({ ok: true, at, validators });
      report.outcome = 'unchanged';
      report.counts = { inserted: 0, updated: 0, moved: 0, unchanged: report.events };
      return report;
    }
    const committing = writer;
    writer = undefined;
    const counts = await committing.commit({ at, validators });
    report.counts = { ...counts, unchanged };
    report.outcome = 'applied';
    return report;
  } catch (cause) {
    tasks.abort();
    await writer?.abort();
    const error = toFailure(cause, pollSignal);
    report.error = { code: error.code, message: error.message };
    report.retryAfterMs = error.retryAfterMs;
    try {
      // A poll cut short by shutdown says nothing about the provider: not a failure to report.
      if (error.code !== 'aborted') {
        deps.store.recordPoll({ ok: false, at, code: error.code, message: error.message });
      }
    } catch (stateError) {
      deps.log.error({ err: stateError }, 'could not record the failed poll in the store');
    }
    return report;
  } finally {
    report.durationMs = Math.round(performance.now() - started);
  }
}

function toFailure(cause: unknown, signal: AbortSignal): IngestError {
  if (cause instanceof IngestError) return cause;
  if (cause instanceof StoreError) {
    return new IngestError('store_write_failed', cause.message, { cause });
  }
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
  return new IngestError('feed_malformed', message, { cause });
}
