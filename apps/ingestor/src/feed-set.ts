import { BUILT_IN_FORMAT, describeFormat } from '@tessera/mapping';
import type { StoreWriter } from '@tessera/store';
import { type FeedConfig, redactUrl } from './feed-config.js';
import { createFeedFetcher, type FeedFetcher } from './feed-fetcher.js';
import { createFeedLoop, type FeedLoop, type FeedLoopDeps } from './feed-loop.js';
import type { PollReport } from './feed-poll.js';
import { type FeedSink, storeSink } from './feed-sink.js';

/** What every feed's poll loop shares: the parse workers, the limits, the log, the schedule. */
export type SharedDeps = Omit<
  FeedLoopDeps,
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
  /** The loop of a feed this set runs (for an operator's action), or undefined. */
  loop(feed: string): FeedLoop | undefined;
  /**
   * Runs these feeds from now on: new ones start, removed ones stop polling (their records and
   * events stay), changed ones restart with their new settings, the others go on untouched.
   */
  reload(feeds: readonly FeedConfig[]): Promise<FeedChanges>;
}

export interface FeedChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

interface RunningFeed {
  /** The feed's settings as compared by a reload. */
  settings: string;
  feedLoop: FeedLoop;
  fetcher: FeedFetcher;
  sink: FeedSink;
}

/**
 * One poll loop per feed, each with its own fetcher (URL, headers, validators), stage, state and
 * backoff: a slow, failing or huge feed delays no other. They share the parse workers and the
 * store, whose applies are synchronous transactions: an apply waits at most for another apply.
 * A feed an operator paused starts paused (see FeedRecord.paused).
 */
export function createFeedSet(
  feeds: readonly FeedConfig[],
  store: StoreWriter,
  shared: SharedDeps,
  limits: FetchLimits,
): FeedSet {
  const progressOf = summedProgress(shared.onProgress);
  const loops = new Map<string, RunningFeed>();
  // Settles when the set stops, or rejects when a loop gives up: loops come and go with
  // reloads, so run() cannot wait on a fixed list of them.
  const ended = Promise.withResolvers<void>();
  let running = false;

  const open = (feed: FeedConfig): void => {
    const { fetcher, deps } = feedPollDeps(feed, shared, limits);
    const paused = store.feeds().some((f) => f.id === feed.id && f.paused);
    const sink = storeSink(store, feed.id);
    const feedLoop = createFeedLoop(
      { ...deps, store: sink, onProgress: progressOf(feed.id) },
      { paused },
    );
    loops.set(feed.id, { settings: settingsOf(feed), feedLoop, fetcher, sink });
    if (running) start(feedLoop);
  };
  const start = (feedLoop: FeedLoop): void => {
    feedLoop.run().catch((error: unknown) => ended.reject(error));
  };
  const close = async (feed: string): Promise<void> => {
    const loop = loops.get(feed);
    loops.delete(feed);
    await loop?.feedLoop.stop();
    await loop?.fetcher.close().catch(() => {});
    await loop?.sink.close();
  };
  for (const feed of feeds) open(feed);

  return {
    pollOnce: () =>
      Promise.all(
        [...loops].map(async ([feed, { feedLoop }]) => ({
          feed,
          report: await feedLoop.pollOnce(),
        })),
      ),
    async run() {
      running = true;
      for (const { feedLoop } of loops.values()) start(feedLoop);
      await ended.promise;
    },
    async stop() {
      await Promise.allSettled([...loops.keys()].map(close));
      ended.resolve();
    },
    loop: (feed) => loops.get(feed)?.feedLoop,
    async reload(next) {
      const changes = diffFeeds(new Map([...loops].map(([id, loop]) => [id, loop.settings])), next);
      await Promise.all([...changes.removed, ...changes.changed].map(close));
      store.configureFeeds(next.map((f) => ({ id: f.id, url: redactUrl(f.url) })));
      for (const feed of next) {
        if (changes.changed.includes(feed.id) || changes.added.includes(feed.id)) open(feed);
      }
      return changes;
    },
  };
}

/** What a reload compares: everything a feed's loop was built from. */
export function settingsOf(feed: FeedConfig): string {
  return JSON.stringify(feed);
}

/** What a reload to `next` changes, against the settings (see settingsOf) of the feeds running. */
export function diffFeeds(
  running: ReadonlyMap<string, string>,
  next: readonly FeedConfig[],
): FeedChanges {
  const wanted = new Map(next.map((feed) => [feed.id, feed]));
  const changes: FeedChanges = { added: [], removed: [], changed: [] };
  for (const [id, settings] of running) {
    const feed = wanted.get(id);
    if (feed === undefined) changes.removed.push(id);
    else if (settingsOf(feed) !== settings) changes.changed.push(id);
  }
  for (const id of wanted.keys()) if (!running.has(id)) changes.added.push(id);
  return changes;
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
): { fetcher: FeedFetcher; deps: Omit<FeedLoopDeps, 'store'> } {
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
