import { BUILT_IN_FORMAT, describeFormat } from '@tessera/mapping';
import type { StoreWriter } from '@tessera/store';
import type { FeedConfig } from './feed-config.js';
import { createFeedFetcher, type FeedFetcher } from './feed-fetcher.js';
import type { PollReport } from './feed-poll.js';
import { storeSink } from './feed-sink.js';
import { createIngestor, type Ingestor, type IngestorDeps } from './ingestor.js';

/** What every feed's poll loop shares: the parse workers, the limits, the log, the schedule. */
export type SharedDeps = Omit<
  IngestorDeps,
  'store' | 'fetcher' | 'provider' | 'timeZone' | 'format' | 'pollIntervalMs'
>;

export interface FetchLimits {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  maxFeedBytes: number;
}

export interface FeedSet {
  /** One poll of every feed at once; each feed's report, in configuration order. */
  pollOnce(): Promise<Array<{ feed: string; report: PollReport }>>;
  /** Every feed's loop; rejects when one gives up (its store keeps failing). */
  run(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One poll loop per feed, each with its own fetcher (URL, headers, validators), stage, state and
 * backoff: a slow, failing or huge feed delays no other. They share the parse workers and the
 * store, whose applies are synchronous transactions: an apply waits at most for another apply.
 */
export function createFeedSet(
  feeds: readonly FeedConfig[],
  store: StoreWriter,
  shared: SharedDeps,
  limits: FetchLimits,
): FeedSet {
  const fetchers: FeedFetcher[] = [];
  const progressOf = summedProgress(shared.onProgress);
  const loops = feeds.map((feed): { feed: string; ingestor: Ingestor } => {
    const { fetcher, deps } = feedPollDeps(feed, shared, limits);
    fetchers.push(fetcher);
    const ingestor = createIngestor({
      ...deps,
      store: storeSink(store, feed.id),
      onProgress: progressOf(feed.id),
    });
    return { feed: feed.id, ingestor };
  });
  return {
    pollOnce: () =>
      Promise.all(
        loops.map(async ({ feed, ingestor }) => ({ feed, report: await ingestor.pollOnce() })),
      ),
    run: async () => {
      await Promise.all(loops.map(({ ingestor }) => ingestor.run()));
    },
    async stop() {
      await Promise.allSettled(loops.map(({ ingestor }) => ingestor.stop()));
      await Promise.allSettled(fetchers.map((f) => f.close()));
    },
  };
}

/**
 * What one feed's polls need besides where they write: its own fetcher (URL, headers, limits),
 * its identity, time zone and interval, and the shared workers and log (named after the feed).
 * The single node's loops and a cluster leader's terms alike.
 */
export function feedPollDeps(
  feed: FeedConfig,
  shared: SharedDeps,
  limits: FetchLimits,
): { fetcher: FeedFetcher; deps: Omit<IngestorDeps, 'store'> } {
  const mapped = feed.format === BUILT_IN_FORMAT ? undefined : feed.format;
  const fetcher = createFeedFetcher({
    url: feed.url,
    headers: feed.headers,
    expects: mapped?.type ?? 'xml',
    ...(mapped === undefined ? {} : { shapedBy: describeFormat(mapped) }),
    ...limits,
  });
  return {
    fetcher,
    deps: {
      ...shared,
      log: shared.log.child({ feed: feed.id }),
      fetcher,
      provider: feed.id,
      timeZone: feed.timeZone,
      format: feed.format,
      pollIntervalMs: feed.pollIntervalMs,
    },
  };
}

type Progress = { bytes: number; events: number };

/**
 * One progress line for a run of several feeds: each feed's reports, summed over every feed.
 * Returns, per feed id, the callback that feed reports to (none without a display).
 */
export function summedProgress(
  report: ((progress: Progress) => void) | undefined,
): (feed: string) => ((progress: Progress) => void) | undefined {
  const latest = new Map<string, Progress>();
  return (feed) =>
    report === undefined
      ? undefined
      : (progress) => {
          latest.set(feed, progress);
          let bytes = 0;
          let events = 0;
          for (const each of latest.values()) {
            bytes += each.bytes;
            events += each.events;
          }
          report({ bytes, events });
        };
}
